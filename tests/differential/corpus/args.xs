# Argument shapes: payloads with missing NULs, extra strings, embedded NULs, and empty
# payloads, for every message type (§5.2 item 3).

=== empty-payload-every-type
# One connection per type: a type that opens a transaction or closes nothing must not
# change what the next one sees.
1: CONTROL ""
2: DIRECTORY ""
  ~ malformed-payload: ERROR "EINVAL\0"
3: READ ""
  ~ malformed-payload: ERROR "EINVAL\0"
4: GET_PERMS ""
  ~ malformed-payload: ERROR "EINVAL\0"
5: WATCH ""
6: UNWATCH ""
7: TRANSACTION_START ""
8: TRANSACTION_END ""
9: INTRODUCE ""
10: RELEASE ""
11: GET_DOMAIN_PATH ""
12: WRITE ""
13: MKDIR ""
  ~ malformed-payload: ERROR "EINVAL\0"
14: RM ""
  ~ malformed-payload: ERROR "EINVAL\0"
15: SET_PERMS ""
16: IS_DOMAIN_INTRODUCED ""
17: RESUME ""
18: SET_TARGET ""
19: RESET_WATCHES ""
20: DIRECTORY_PART ""

=== empty-string-every-type
# The payload is one empty string ("\0").
1: CONTROL "\0"
2: DIRECTORY "\0"
3: READ "\0"
4: GET_PERMS "\0"
5: WATCH "\0"
6: UNWATCH "\0"
7: TRANSACTION_START "\0"
8: TRANSACTION_END "\0"
9: INTRODUCE "\0"
10: RELEASE "\0"
11: GET_DOMAIN_PATH "\0"
  ~ strict-numbers: ERROR "EINVAL\0"
12: WRITE "\0"
13: MKDIR "\0"
14: RM "\0"
15: SET_PERMS "\0"
16: IS_DOMAIN_INTRODUCED "\0"
  ~ strict-numbers: ERROR "EINVAL\0"
17: RESUME "\0"
18: SET_TARGET "\0"
19: RESET_WATCHES "\0"
20: DIRECTORY_PART "\0"

=== missing-nul-one-path
1: WRITE /a "1"
1: READ "/a"
  ~ malformed-payload: ERROR "EINVAL\0"
1: DIRECTORY "/a"
  ~ malformed-payload: ERROR "EINVAL\0"
1: GET_PERMS "/a"
  ~ malformed-payload: ERROR "EINVAL\0"
1: MKDIR "/b"
  ~ malformed-payload: ERROR "EINVAL\0"
1: RM "/a"
  ~ malformed-payload: ERROR "EINVAL\0"
1: READ /a
1: READ /b

=== extra-strings-one-path
1: WRITE /a "1"
1: READ /a extra
  ~ malformed-payload: ERROR "EINVAL\0"
1: DIRECTORY /a extra
  ~ malformed-payload: ERROR "EINVAL\0"
1: GET_PERMS /a extra
  ~ malformed-payload: ERROR "EINVAL\0"
1: MKDIR /b extra
  ~ malformed-payload: ERROR "EINVAL\0"
1: RM /a extra
  ~ malformed-payload: ERROR "EINVAL\0"
1: READ /a
1: READ /b

=== trailing-bytes-after-path
1: WRITE /a "1"
1: READ "/a\0x"
  ~ malformed-payload: ERROR "EINVAL\0"
1: DIRECTORY "/a\0x"
  ~ malformed-payload: ERROR "EINVAL\0"
1: GET_PERMS "/a\0\0"
  ~ malformed-payload: ERROR "EINVAL\0"
1: MKDIR "/b\0\0"
  ~ malformed-payload: ERROR "EINVAL\0"
1: RM "/a\0junk"
  ~ malformed-payload: ERROR "EINVAL\0"
1: READ /a

=== embedded-nul-in-path
1: WRITE /ab "1"
1: READ "/a\0b\0"
  ~ malformed-payload: ERROR "EINVAL\0"
1: RM "/a\0b\0"
  ~ malformed-payload: ERROR "EINVAL\0"
1: READ /ab

=== write-shapes
# WRITE: path NUL value; no NUL at all is malformed; an empty value is fine.
1: WRITE "/a"
1: READ /a
1: WRITE "/a\0"
1: READ /a
1: WRITE "/b\0\0\0"
1: READ /b
1: WRITE "\0value"
1: WRITE "/c\0v\0extra\0"
1: READ /c

=== watch-shapes
1: WATCH "/a"
1: WATCH "/a\0"
1: WATCH "/a\0tok"
1: WATCH "/a\0tok\0extra\0"
1: WATCH "/a\0tok\0\0"
1: WATCH "/a\0\0"
1: UNWATCH "/a\0\0"
1: WATCH "\0tok\0"
1: UNWATCH "/a"
1: UNWATCH "/a\0tok"
1: UNWATCH "/a\0tok\0extra\0"
1: WRITE /a "1"
1: sync

=== set-perms-shapes
1: WRITE /a "1"
1: SET_PERMS "/a"
1: SET_PERMS "/a\0"
1: SET_PERMS "/a\0r0"
1: GET_PERMS /a
1: SET_PERMS "/a\0b0\0r1"
1: GET_PERMS /a
1: SET_PERMS "/a\0n0\0\0"
1: GET_PERMS /a
1: SET_PERMS "/a\0n0\0r5\0trailing"
1: GET_PERMS /a

=== transaction-start-shapes
# C ignores TRANSACTION_START's payload.
1: TRANSACTION_START ""
1: TRANSACTION_END tx=$1 F
1: TRANSACTION_START "junk"
1: TRANSACTION_END tx=$2 F
1: TRANSACTION_START "a\0b\0"
1: TRANSACTION_END tx=$3 F

=== transaction-end-shapes
1: TRANSACTION_START "\0"
1: TRANSACTION_END tx=$1 "T"
1: TRANSACTION_END tx=$1 "F"
1: TRANSACTION_END tx=$1 t
1: TRANSACTION_END tx=$1 f
1: TRANSACTION_END tx=$1 TT
1: TRANSACTION_END tx=$1 "T\0F\0"
1: TRANSACTION_END tx=$1 "\0"
1: TRANSACTION_END tx=$1 ""
1: TRANSACTION_END tx=$1 T
1: TRANSACTION_END tx=$1 T

=== reset-watches-shapes
1: WATCH /a t
1: RESET_WATCHES "junk"
1: WRITE /a "1"
1: sync
1: WATCH /a t
1: RESET_WATCHES ""
1: WRITE /a "2"
1: sync

=== domain-path-shapes
1: GET_DOMAIN_PATH "0"
1: GET_DOMAIN_PATH "0\0extra\0"
1: GET_DOMAIN_PATH "0\0\0"
1: GET_DOMAIN_PATH "\0"
  ~ strict-numbers: ERROR "EINVAL\0"

=== directory-part-shapes
1: WRITE /d/a ""
1: DIRECTORY_PART "/d"
1: DIRECTORY_PART "/d\0"
1: DIRECTORY_PART "/d\00"
1: DIRECTORY_PART "/d\00\0"
1: DIRECTORY_PART "/d\00\0extra\0"
1: DIRECTORY_PART "/d\0\0"
  ~ strict-numbers: ERROR "EINVAL\0"
