# The wire format (§1.1, §5.2 items 1 and 13): bad lengths, split headers, pipelining,
# unknown and server-only message types.

=== length-4097-closes
1: READ len=4097 "/a\0" closes

=== length-max-closes
1: READ len=0xffffffff "/a\0" closes

=== length-1gib-closes
1: WRITE len=0x40000000 "/a\0v" closes

=== other-connections-survive-bad-length
1: WRITE /a "1"
2: READ len=5000 "/a\0" closes
1: READ /a
3: READ /a

=== payload-exactly-4096
1: WRITE "/a\0" "v"*4093
1: READ /a
1: WRITE "/b\0" "v"*4094 closes

=== header-one-byte-at-a-time
1: WRITE split=1 /a "hello"
1: READ split=1 /a
1: READ split=3 /a

=== header-split-across-writes
1: WRITE split=7 /a "hello"
1: READ split=16 /a
1: READ split=17 /a

=== pipelined-requests
1: WRITE nowait /a "1"
1: READ nowait /a
1: WRITE nowait /a "2"
1: READ nowait /a
1: READ nowait /missing
1: read
1: read
1: read
1: read
1: read

=== request-ids-echoed
1: READ req=0 /
1: READ req=0xffffffff /
1: READ req=42 /missing
1: WRITE req=7 /a "1"
1: READ req=7 /a

=== unknown-types
1: 23 "\0"
  ~ get-set-feature: ERROR "EINVAL\0"
1: 24 "0\0"
  ~ get-set-feature: ERROR "EINVAL\0"
1: 25 ""
1: 26 "x\0y\0"
1: 27 "\0"
1: 100 "\0"
1: 0xffff "\0"
1: 0xffffffff "\0"
1: READ /tool

=== server-only-types
1: WATCH_EVENT "/a\0tok\0"
1: ERROR "EINVAL\0"
1: RESTRICT "0\0"
1: RESTRICT ""
1: READ /tool

=== unknown-type-with-transaction
1: TRANSACTION_START "\0"
1: 23 tx=$1 "\0"
  ~ get-set-feature: ERROR "EINVAL\0"
1: WATCH_EVENT tx=$1 "\0"
1: TRANSACTION_END tx=$1 T

=== zero-length-requests
1: READ ""
  ~ malformed-payload: ERROR "EINVAL\0"
1: 23 ""
  ~ get-set-feature: 23 "3\0"
1: RESTRICT ""
1: GET_DOMAIN_PATH 0

=== many-connections
*40 {i:1}: WRITE /c/{i} "x"
1: DIRECTORY /c

=== close-mid-message
# A connection closed in the middle of a message: the partial request is not executed.
# (A complete request sent just before the close may or may not be: that is a race.)
1: READ len=100 nowait "/a\0"
1: close
2: READ /tool
3: WRITE len=50 split=5 nowait /b "v"
3: close
2: READ /b

=== many-pipelined
*100 1: WRITE nowait /p/{i} "{i}"
*100 1: read
1: DIRECTORY /p

=== split-nowait-then-sync
1: READ split=8 nowait "/a\0"
1: sync
