# Permissions as dom0 sees them: SET_PERMS parsing, GET_PERMS, special nodes. Socket
# clients are privileged on both daemons, so access checks themselves are not visible.

=== set-perms-valid
1: WRITE /a "1"
1: SET_PERMS /a n0
1: GET_PERMS /a
1: SET_PERMS /a r0
1: GET_PERMS /a
1: SET_PERMS /a w0
1: GET_PERMS /a
1: SET_PERMS /a b0
1: GET_PERMS /a
1: SET_PERMS /a n5 r6 w7 b8
1: GET_PERMS /a
1: READ /a

=== set-perms-owner-other-domain
1: WRITE /a "1"
1: SET_PERMS /a b7
1: GET_PERMS /a
1: READ /a
1: WRITE /a "2"
1: WRITE /a/child "3"
1: GET_PERMS /a/child

=== set-perms-many-entries
1: WRITE /a "1"
1: SET_PERMS /a n0 r1 r2 r3 r4 r5 r6 r7 r8 r9 r10
1: GET_PERMS /a
1: SET_PERMS /a n0 r1 r1 w1
1: GET_PERMS /a

=== set-perms-bad-letter
1: WRITE /a "1"
1: SET_PERMS /a x0
1: SET_PERMS /a R0
1: SET_PERMS /a " 0\0"
1: SET_PERMS /a n0 x5
1: GET_PERMS /a

=== set-perms-bad-domid
# C reads the domid with strtol(p, &end, 0) and refuses only an empty number or trailing
# characters; "r-1" is stored as domid -1, "r 5" is accepted (leading space).
1: WRITE /a "1"
1: SET_PERMS /a r
1: GET_PERMS /a
1: SET_PERMS /a n0 rabc
1: GET_PERMS /a
1: SET_PERMS /a n0 r5x
1: GET_PERMS /a
1: SET_PERMS /a n0 r-1
  ~ strict-numbers: ERROR "EINVAL\0"
1: GET_PERMS /a
  ~ strict-numbers: GET_PERMS "n0\0"
1: SET_PERMS /a n0 "r 5\0"
  ~ strict-numbers: ERROR "EINVAL\0"
1: GET_PERMS /a
  ~ strict-numbers: GET_PERMS "n0\0"

=== set-perms-domid-bases
# strtol base 0: hexadecimal, octal and a sign are numbers to C.
1: WRITE /a "1"
1: SET_PERMS /a n0 r0x10
  ~ strict-numbers: ERROR "EINVAL\0"
1: GET_PERMS /a
  ~ strict-numbers: GET_PERMS "n0\0"
1: WRITE /b "1"
# C reads "r010" as octal 8; dxs refuses the leading zero rather than guess.
1: SET_PERMS /b n0 r010
  ~ strict-numbers: ERROR "EINVAL\0"
1: GET_PERMS /b
  ~ strict-numbers: GET_PERMS "n0\0"
1: WRITE /c "1"
1: SET_PERMS /c n0 r+5
  ~ strict-numbers: ERROR "EINVAL\0"
1: GET_PERMS /c
  ~ strict-numbers: GET_PERMS "n0\0"

=== set-perms-overflowing-domid
# C stores strtol()'s result in an unsigned int: 99999999999 wraps to 1215752191;
# domid_t is 16 bits, so dxs refuses domids above 65535.
1: WRITE /a "1"
1: SET_PERMS /a n0 r99999999999
  ~ strict-numbers: ERROR "EINVAL\0"
1: GET_PERMS /a
  ~ strict-numbers: GET_PERMS "n0\0"
1: SET_PERMS /a n0 r65535
1: GET_PERMS /a
1: SET_PERMS /a n0 r65536
  ~ strict-numbers: ERROR "EINVAL\0"
1: GET_PERMS /a
  ~ strict-numbers: GET_PERMS "n0\0r65535\0"
1: SET_PERMS /a n0 r32752
1: GET_PERMS /a
1: SET_PERMS /a n0 r4294967296
  ~ strict-numbers: ERROR "EINVAL\0"
1: GET_PERMS /a
  ~ strict-numbers: GET_PERMS "n0\0r32752\0"

=== set-perms-empty-entry
1: WRITE /a "1"
1: SET_PERMS /a n0 "\0"
1: SET_PERMS "/a\0\0"
1: SET_PERMS "/a\0\0n0\0"
1: GET_PERMS /a

=== set-perms-missing-node
1: SET_PERMS /nothing n0
1: SET_PERMS /nothing/deeper n0
1: READ /nothing

=== set-perms-root
1: SET_PERMS / r0
1: GET_PERMS /
1: SET_PERMS / n0
1: GET_PERMS /

=== set-perms-relative
1: WRITE rel "1"
1: SET_PERMS rel b3
1: GET_PERMS rel
1: GET_PERMS /local/domain/0/rel

=== set-perms-does-not-recurse
1: WRITE /a/b "1"
1: SET_PERMS /a r4
1: GET_PERMS /a
1: GET_PERMS /a/b

=== special-node-perms
1: GET_PERMS @introduceDomain
1: SET_PERMS @introduceDomain n0 r5
1: SET_PERMS @releaseDomain b0 r3
1: SET_PERMS @other n0
1: SET_PERMS @ n0
1: SET_PERMS @introduceDomain/x n0
1: SET_PERMS @releaseDomain bad
1: SET_PERMS @releaseDomain/1 n0

=== perms-after-rm-and-recreate
1: WRITE /a "1"
1: SET_PERMS /a b9
1: RM /a
1: WRITE /a "2"
1: GET_PERMS /a
