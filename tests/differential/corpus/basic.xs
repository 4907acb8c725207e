# Basic node operations: READ, WRITE, MKDIR, RM, DIRECTORY, GET_PERMS on absolute and
# relative paths, as dom0 over the socket (privileged on both daemons).

=== initial-tree
1: DIRECTORY /
1: DIRECTORY /tool
1: DIRECTORY /tool/xenstored
1: READ /
1: READ /tool
1: READ /tool/xenstored
1: GET_PERMS /
1: GET_PERMS /tool
1: GET_PERMS /tool/xenstored
1: DIRECTORY /local

=== write-read
1: WRITE /a "hello"
1: READ /a
1: WRITE /a "again"
1: READ /a
1: GET_PERMS /a

=== write-empty-value
1: WRITE /a ""
1: READ /a
1: DIRECTORY /a

=== write-binary-value
1: WRITE /a "\x00\x01\x02\xff\xfe\n\t"
1: READ /a

=== write-value-with-nuls
# The value is the rest of the payload, NULs included.
1: WRITE /a "x\0y\0"
1: READ /a
1: WRITE /b "\0"
1: READ /b

=== write-creates-parents
1: WRITE /a/b/c/d "v"
1: READ /a
1: READ /a/b
1: READ /a/b/c
1: READ /a/b/c/d
1: DIRECTORY /a
1: DIRECTORY /a/b/c
1: GET_PERMS /a/b

=== write-large-value
# Values fill the payload: dom0 is not bound by the node-size quota.
1: WRITE /a "v"*4093
1: READ /a
1: WRITE /b "v"*2100
1: READ /b

=== write-over-directory
1: WRITE /a/b "child"
1: WRITE /a "parent"
1: READ /a
1: DIRECTORY /a
1: READ /a/b

=== mkdir-new-and-existing
1: MKDIR /m
1: READ /m
1: DIRECTORY /m
1: WRITE /m "value"
1: MKDIR /m
1: READ /m
1: MKDIR /m/x/y/z
1: DIRECTORY /m/x
1: READ /m/x/y

=== mkdir-root-and-tool
1: MKDIR /
1: MKDIR /tool
1: READ /
1: DIRECTORY /

=== rm-node-and-subtree
1: WRITE /a/b/c "1"
1: WRITE /a/b/d "2"
1: WRITE /a/e "3"
1: RM /a/b/c
1: DIRECTORY /a/b
1: RM /a
1: READ /a
1: READ /a/e
1: DIRECTORY /

=== rm-missing
# Absent node with an existing parent: OK; absent parent: ENOENT.
1: RM /nothing
1: RM /nothing/deeper
1: WRITE /a "1"
1: RM /a/missing
1: RM /a/missing/deeper

=== rm-root-and-tool
1: RM /
1: DIRECTORY /
1: RM /tool/xenstored
1: DIRECTORY /tool
1: RM /tool
1: DIRECTORY /

=== read-missing
1: READ /nothing
1: READ /nothing/deeper
1: WRITE /a "1"
1: READ /a/b
1: GET_PERMS /nothing
1: DIRECTORY /nothing
1: GET_PERMS /a/b/c

=== directory-children
# dxs lists children in byte order, C in creation order: the comparison sorts names.
1: WRITE /d/zeta ""
1: WRITE /d/alpha ""
1: WRITE /d/Mid ""
1: WRITE /d/0num ""
1: WRITE /d/_u ""
1: WRITE /d/a-b ""
1: WRITE /d/@at ""
1: DIRECTORY /d
1: RM /d/alpha
1: DIRECTORY /d

=== directory-too-big
# 90 children of 50 characters: 4590 bytes of names, more than a reply holds (E2BIG);
# after removing 10, 4080 bytes fit.
*90 1: WRITE /d/{i:050} ""
1: DIRECTORY /d
1: RM /d/00000000000000000000000000000000000000000000000000
1: RM /d/00000000000000000000000000000000000000000000000001
1: RM /d/00000000000000000000000000000000000000000000000002
1: RM /d/00000000000000000000000000000000000000000000000003
1: RM /d/00000000000000000000000000000000000000000000000004
1: RM /d/00000000000000000000000000000000000000000000000005
1: RM /d/00000000000000000000000000000000000000000000000006
1: RM /d/00000000000000000000000000000000000000000000000007
1: RM /d/00000000000000000000000000000000000000000000000008
1: RM /d/00000000000000000000000000000000000000000000000009
1: DIRECTORY /d

=== relative-paths
# A socket client's relative paths are below /local/domain/0.
1: WRITE rel "v"
1: READ rel
1: READ /local/domain/0/rel
1: DIRECTORY /local/domain/0
1: DIRECTORY /local/domain
1: WRITE rel/sub/leaf "w"
1: DIRECTORY rel
1: GET_PERMS rel/sub
1: MKDIR rel2
1: READ /local/domain/0/rel2
1: RM rel
1: READ rel/sub/leaf
1: DIRECTORY /local/domain/0

=== relative-paths-special-forms
1: WRITE a-b_c@d "v"
1: READ /local/domain/0/a-b_c@d
1: READ 0
1: WRITE /local/domain/0 "home"
1: READ /local/domain/0

=== perms-inherited-on-create
1: WRITE /p "x"
1: SET_PERMS /p b7 r3 w4
1: WRITE /p/child "y"
1: GET_PERMS /p/child
1: MKDIR /p/d1/d2
1: GET_PERMS /p/d1
1: GET_PERMS /p/d1/d2
1: SET_PERMS /p n0
1: GET_PERMS /p/child

=== many-nodes
*200 1: WRITE /big/n{i} "value {i}"
1: READ /big/n0
1: READ /big/n199
1: RM /big
1: READ /big/n5
1: DIRECTORY /

=== two-connections-share-tree
1: WRITE /a "from 1"
2: READ /a
2: WRITE /a "from 2"
1: READ /a
2: RM /a
1: READ /a

=== deep-tree
# 1000 levels in 2000 characters (§5.2 item 10): created by one WRITE, removed by one RM.
1: WRITE "/a"*1000 "\0leaf"
1: READ "/a"*1000 "\0"
1: DIRECTORY "/a"*999 "\0"
1: CONTROL check
1: RM /a
1: READ /a/a
1: DIRECTORY /

=== write-under-tool
1: WRITE /tool/xenstored/x "1"
1: DIRECTORY /tool/xenstored
1: WRITE /tool "v"
1: READ /tool

=== rm-then-recreate-subtree
1: WRITE /a/b/c "1"
1: RM /a/b
1: DIRECTORY /a
1: WRITE /a/b "2"
1: DIRECTORY /a/b
1: READ /a/b
