# DIRECTORY_PART (§1.6): <path> NUL <byte offset> NUL -> <generation> NUL names..., with an
# empty name once the list is complete. Children are created in byte order so that C's
# creation order and dxs's byte order agree on where chunks split. The generation is
# compared as GEN (normalised).

=== small-directory
1: WRITE /d/a ""
1: WRITE /d/bb ""
1: WRITE /d/ccc ""
1: DIRECTORY_PART /d 0
1: DIRECTORY_PART /d 2
1: DIRECTORY_PART /d 5
1: DIRECTORY_PART /d 9
1: DIRECTORY_PART /d 10
1: DIRECTORY_PART /d 4096
1: DIRECTORY_PART /d 4294967295

=== empty-directory
1: WRITE /d ""
1: DIRECTORY_PART /d 0
1: DIRECTORY_PART /d 1

=== missing-node
1: DIRECTORY_PART /nothing 0
1: DIRECTORY_PART /nothing/deeper 0

=== root-and-relative
1: DIRECTORY_PART / 0
1: WRITE rel/x ""
1: DIRECTORY_PART rel 0
1: DIRECTORY_PART /local/domain/0/rel 0

=== offset-in-the-middle-of-a-name
1: WRITE /d/aaaa ""
1: WRITE /d/bbbb ""
1: DIRECTORY_PART /d 1
1: DIRECTORY_PART /d 6

=== bad-offsets
# C reads the offset with atoi(): "abc" is 0, "-1" is -1 (a huge unsigned offset).
1: WRITE /d/a ""
1: DIRECTORY_PART /d abc
  ~ strict-numbers: ERROR "EINVAL\0"
1: DIRECTORY_PART /d -1
  ~ strict-numbers: ERROR "EINVAL\0"
1: DIRECTORY_PART /d 1x
  ~ strict-numbers: ERROR "EINVAL\0"
1: DIRECTORY_PART /d " 0\0"
  ~ strict-numbers: ERROR "EINVAL\0"
1: DIRECTORY_PART /d 99999999999
  ~ strict-numbers: ERROR "EINVAL\0"
1: DIRECTORY_PART /d +0
  ~ strict-numbers: ERROR "EINVAL\0"

=== wrong-argument-count
1: WRITE /d/a ""
1: DIRECTORY_PART /d
1: DIRECTORY_PART /d 0 0
1: DIRECTORY_PART "/d\00"
1: DIRECTORY_PART "\0" 0

=== invalid-path
1: DIRECTORY_PART "/a b\0" 0
1: DIRECTORY_PART /a/ 0
1: DIRECTORY_PART @introduceDomain 0

=== large-directory-chunks
# 300 names of 20 characters: 6300 bytes, two chunks.
*300 1: WRITE /d/{i:020} ""
1: DIRECTORY_PART /d 0
1: DIRECTORY_PART /d 4074
1: DIRECTORY_PART /d 4095
1: DIRECTORY_PART /d 6279
1: DIRECTORY_PART /d 6300
1: DIRECTORY /d

=== in-transaction
1: WRITE /d/a ""
1: TRANSACTION_START "\0"
1: WRITE tx=$1 /d/b ""
1: DIRECTORY_PART tx=$1 /d 0
1: DIRECTORY_PART /d 0
1: TRANSACTION_END tx=$1 T
1: DIRECTORY_PART /d 0
