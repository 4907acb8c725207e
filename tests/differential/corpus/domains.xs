# Domain messages: GET_DOMAIN_PATH, IS_DOMAIN_INTRODUCED, INTRODUCE, RELEASE, RESUME,
# SET_TARGET. Without a hypervisor C's INTRODUCE is served by start-peer.sh's shim;
# dxs records the domain. Both answer the socket client as dom0.

=== get-domain-path
1: GET_DOMAIN_PATH 0
1: GET_DOMAIN_PATH 1
1: GET_DOMAIN_PATH 65535
1: GET_DOMAIN_PATH 32752
1: GET_DOMAIN_PATH 00012

=== get-domain-path-bad-numbers
# C: atoi(): "abc" is domain 0, "-1" is -1 (printed as %u), "12abc" is 12.
1: GET_DOMAIN_PATH abc
  ~ strict-numbers: ERROR "EINVAL\0"
1: GET_DOMAIN_PATH -1
  ~ strict-numbers: ERROR "EINVAL\0"
1: GET_DOMAIN_PATH 12abc
  ~ strict-numbers: ERROR "EINVAL\0"
1: GET_DOMAIN_PATH 99999
  ~ strict-numbers: ERROR "EINVAL\0"
1: GET_DOMAIN_PATH 4294967296
  ~ strict-numbers: ERROR "EINVAL\0"
1: GET_DOMAIN_PATH " 7\0"
  ~ strict-numbers: ERROR "EINVAL\0"
1: GET_DOMAIN_PATH "\0"
  ~ strict-numbers: ERROR "EINVAL\0"

=== get-domain-path-shapes
1: GET_DOMAIN_PATH "0"
1: GET_DOMAIN_PATH 1 2
1: GET_DOMAIN_PATH ""

=== is-domain-introduced
1: IS_DOMAIN_INTRODUCED 0
1: IS_DOMAIN_INTRODUCED 1
1: IS_DOMAIN_INTRODUCED 32752
1: IS_DOMAIN_INTRODUCED 65535
1: IS_DOMAIN_INTRODUCED "1"
1: IS_DOMAIN_INTRODUCED 1 2

=== is-domain-introduced-bad-numbers
1: IS_DOMAIN_INTRODUCED abc
  ~ strict-numbers: ERROR "EINVAL\0"
1: IS_DOMAIN_INTRODUCED -1
  ~ strict-numbers: ERROR "EINVAL\0"
1: IS_DOMAIN_INTRODUCED 0x7ff0
  ~ strict-numbers: ERROR "EINVAL\0"
1: IS_DOMAIN_INTRODUCED 99999999999
  ~ strict-numbers: ERROR "EINVAL\0"

=== introduce-and-release
1: WATCH @introduceDomain intro
1: WATCH @releaseDomain release
1: IS_DOMAIN_INTRODUCED 5
1: INTRODUCE 5 1234 7
1: IS_DOMAIN_INTRODUCED 5
1: RELEASE 5
  ~ release-event-order: EVENT @releaseDomain release; RELEASE "OK\0"
1: IS_DOMAIN_INTRODUCED 5
  ~ release-event-order: IS_DOMAIN_INTRODUCED "F\0"
1: RELEASE 5
1: sync

=== introduce-twice
1: WATCH @introduceDomain intro
1: INTRODUCE 5 1234 7
1: INTRODUCE 5 1234 7
1: INTRODUCE 5 99 8
1: IS_DOMAIN_INTRODUCED 5
1: sync

=== introduce-argument-count
1: INTRODUCE 5 1234
1: INTRODUCE 5
1: INTRODUCE "5\01234\07"
1: INTRODUCE 6 1234 7 extra
1: IS_DOMAIN_INTRODUCED 6

=== introduce-bad-port
1: INTRODUCE 5 1234 0
1: INTRODUCE 5 1234 -1
  ~ strict-numbers: ERROR "EINVAL\0"
1: IS_DOMAIN_INTRODUCED 5
  ~ strict-numbers: IS_DOMAIN_INTRODUCED "F\0"

=== introduce-bad-numbers
1: INTRODUCE abc 1234 7
  ~ strict-numbers: ERROR "EINVAL\0"
1: IS_DOMAIN_INTRODUCED 0
1: INTRODUCE 5 abc 7
  ~ strict-numbers: ERROR "EINVAL\0"
1: IS_DOMAIN_INTRODUCED 5
  ~ strict-numbers: IS_DOMAIN_INTRODUCED "F\0"
1: INTRODUCE 6 1234 7x
  ~ strict-numbers: ERROR "EINVAL\0"
1: IS_DOMAIN_INTRODUCED 6
  ~ strict-numbers: IS_DOMAIN_INTRODUCED "F\0"

=== introduce-dom0
1: WATCH @introduceDomain intro
1: INTRODUCE 0 1234 7
1: IS_DOMAIN_INTRODUCED 0
1: sync

=== introduce-reserved-domids
1: INTRODUCE 32752 1 7
  ~ introduce-domids: ERROR "EINVAL\0"
1: INTRODUCE 32767 1 7
  ~ introduce-domids: ERROR "EINVAL\0"
1: INTRODUCE 65535 1 7
  ~ introduce-domids: ERROR "EINVAL\0"
1: INTRODUCE 65536 1 7
  ~ introduce-domids: ERROR "EINVAL\0"

=== release-shapes
1: RELEASE 0
1: RELEASE 9
1: RELEASE "\0"
1: RELEASE 1 2
1: RELEASE abc
1: RELEASE -1
  ~ strict-numbers: ERROR "EINVAL\0"

=== release-removes-nothing-of-others
1: INTRODUCE 5 1 7
1: WRITE /local/domain/5/x "1"
1: SET_PERMS /local/domain/5 n0 r5
1: RELEASE 5
1: GET_PERMS /local/domain/5
  ~ release-scrubs-permissions: GET_PERMS "n0\0"
1: READ /local/domain/5/x

=== resume
1: RESUME 5
1: INTRODUCE 5 1 7
1: RESUME 5
1: RESUME 0
1: RESUME "\0"
1: RESUME 5 6
1: RELEASE 5
1: RESUME 5

=== resume-bad-numbers
1: INTRODUCE 5 1 7
1: RESUME abc
1: RESUME 5x
  ~ strict-numbers: ERROR "EINVAL\0"

=== set-target
1: SET_TARGET 5 6
1: INTRODUCE 5 1 7
1: SET_TARGET 5 6
1: INTRODUCE 6 1 8
1: SET_TARGET 5 6
1: SET_TARGET 6 5
1: SET_TARGET 5 5
1: SET_TARGET 5 0
1: SET_TARGET 0 5

=== set-target-shapes
1: INTRODUCE 5 1 7
1: INTRODUCE 6 1 8
1: SET_TARGET 5
1: SET_TARGET "\0"
1: SET_TARGET 5 6 7
1: SET_TARGET "5\06"

=== set-target-bad-numbers
1: INTRODUCE 5 1 7
1: INTRODUCE 6 1 8
1: SET_TARGET abc 6
  ~ strict-numbers: ERROR "EINVAL\0"
1: SET_TARGET 5 6x
  ~ strict-numbers: ERROR "EINVAL\0"

=== introduce-many
*5 1: INTRODUCE {i}1 1 7
*5 1: IS_DOMAIN_INTRODUCED {i}1
*5 1: RELEASE {i}1
*5 1: IS_DOMAIN_INTRODUCED {i}1

=== introduce-then-home
1: INTRODUCE 5 1 7
1: WRITE /local/domain/5/name "vm5"
1: GET_PERMS /local/domain/5
1: SET_PERMS /local/domain/5 n0 b5
1: IS_DOMAIN_INTRODUCED 5
1: RELEASE 5
1: READ /local/domain/5/name

=== set-target-then-release
1: INTRODUCE 5 1 7
1: INTRODUCE 6 1 8
1: SET_TARGET 5 6
1: RELEASE 6
1: IS_DOMAIN_INTRODUCED 6
  ~ release-target: IS_DOMAIN_INTRODUCED "F\0"
1: IS_DOMAIN_INTRODUCED 5
1: SET_TARGET 5 6
  ~ release-target: ERROR "ENOENT\0"
1: RELEASE 6
  ~ release-target: ERROR "ENOENT\0"
1: RELEASE 5
1: IS_DOMAIN_INTRODUCED 6
  ~ release-target: IS_DOMAIN_INTRODUCED "F\0"

=== transaction-id-on-domain-ops
1: INTRODUCE tx=999 5 1 7
1: RELEASE tx=999 5
1: IS_DOMAIN_INTRODUCED tx=999 5
