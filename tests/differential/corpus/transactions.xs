# Transactions (§3.4, §5.2 item 8): commit, abort, isolation, EAGAIN, nesting, unknown
# ids, events on commit, RESET_WATCHES inside a transaction.

=== commit-makes-visible
1: TRANSACTION_START "\0"
1: WRITE tx=$1 /a "1"
1: READ tx=$1 /a
1: READ /a
2: READ /a
1: TRANSACTION_END tx=$1 T
1: READ /a
2: READ /a

=== abort-discards
1: TRANSACTION_START "\0"
1: WRITE tx=$1 /a "1"
1: MKDIR tx=$1 /m
1: TRANSACTION_END tx=$1 F
1: READ /a
1: READ /m

=== snapshot-isolation
1: WRITE /a "old"
1: TRANSACTION_START "\0"
2: WRITE /a "new"
1: READ /a
1: TRANSACTION_END tx=$1 F

=== end-twice
1: TRANSACTION_START "\0"
1: TRANSACTION_END tx=$1 T
1: TRANSACTION_END tx=$1 T
1: TRANSACTION_END tx=$1 F
1: READ tx=$1 /

=== end-without-transaction
1: TRANSACTION_END T
1: TRANSACTION_END F
1: TRANSACTION_END X

=== start-inside-transaction
# No nesting: START with a live tx_id is EBUSY; with an unknown one, ENOENT.
1: TRANSACTION_START "\0"
1: TRANSACTION_START tx=$1 "\0"
1: TRANSACTION_START tx=999 "\0"
1: TRANSACTION_END tx=$1 T

=== unknown-transaction-ids
1: READ tx=1 /
1: WRITE tx=7 /a "1"
1: READ tx=4294967295 /
1: DIRECTORY tx=999 /
1: GET_DOMAIN_PATH tx=999 0
1: IS_DOMAIN_INTRODUCED tx=999 0
1: CONTROL tx=999 print x
1: RESET_WATCHES tx=999 "\0"
1: DIRECTORY_PART tx=999 / 0
1: 23 tx=999 "\0"
  ~ get-set-feature: ERROR "ENOENT\0"
1: READ /a

=== transaction-of-another-connection
1: TRANSACTION_START "\0"
1: WRITE tx=$1 /a "1"
2: READ tx=1 /a
2: TRANSACTION_END tx=1 T
1: TRANSACTION_END tx=$1 T
1: READ /a

=== ids-are-distinct
1: TRANSACTION_START "\0"
1: TRANSACTION_START "\0"
1: TRANSACTION_START "\0"
1: WRITE tx=$2 /b "2"
1: TRANSACTION_END tx=$1 T
1: TRANSACTION_END tx=$3 T
1: TRANSACTION_END tx=$2 T
1: READ /b

=== many-concurrent
# dom0 is not bound by the transaction quota (10 in C).
*12 1: TRANSACTION_START "\0"
1: WRITE tx=$12 /a "12"
1: WRITE tx=$1 /b "1"
1: TRANSACTION_END tx=$12 T
1: TRANSACTION_END tx=$1 T
  ~ transactions-merge: TRANSACTION_END "OK\0"
1: READ /a
1: READ /b
  ~ transactions-merge: READ "1"

=== conflict-read-then-written
1: WRITE /a "1"
1: TRANSACTION_START "\0"
1: READ tx=$1 /a
1: WRITE tx=$1 /b "x"
2: WRITE /a "2"
1: TRANSACTION_END tx=$1 T
1: READ /b

=== conflict-written-node-written-by-other
1: WRITE /a "1"
1: TRANSACTION_START "\0"
1: WRITE tx=$1 /a "tx"
2: WRITE /a "other"
1: TRANSACTION_END tx=$1 T
  ~ transactions-merge: TRANSACTION_END "OK\0"
1: READ /a
  ~ transactions-merge: READ "tx"

=== conflict-read-missing-then-created
1: TRANSACTION_START "\0"
1: READ tx=$1 /a
1: WRITE tx=$1 /b "x"
2: WRITE /a "1"
1: TRANSACTION_END tx=$1 T
1: READ /b

=== conflict-directory-then-child-added
1: WRITE /p/x "1"
1: TRANSACTION_START "\0"
1: DIRECTORY tx=$1 /p
1: WRITE tx=$1 /q "x"
2: WRITE /p/y "1"
1: TRANSACTION_END tx=$1 T
1: READ /q

=== sibling-children-created
# Two transactions adding different children of one parent: C aborts one, dxs merges.
1: WRITE /p ""
1: TRANSACTION_START "\0"
2: TRANSACTION_START "\0"
1: WRITE tx=$1 /p/a "1"
2: WRITE tx=$1 /p/b "2"
1: TRANSACTION_END tx=$1 T
2: TRANSACTION_END tx=$1 T
  ~ transactions-merge: TRANSACTION_END "OK\0"
1: DIRECTORY /p
  ~ transactions-merge: DIRECTORY "a\0b\0"

=== child-created-outside-during-transaction
1: WRITE /p ""
1: TRANSACTION_START "\0"
1: WRITE tx=$1 /p/a "1"
2: WRITE /p/b "2"
1: TRANSACTION_END tx=$1 T
  ~ transactions-merge: TRANSACTION_END "OK\0"
1: DIRECTORY /p
  ~ transactions-merge: DIRECTORY "a\0b\0"

=== read-only-transaction-always-commits
1: WRITE /a "1"
1: TRANSACTION_START "\0"
1: READ tx=$1 /a
2: WRITE /a "2"
1: TRANSACTION_END tx=$1 T
  ~ read-only-transactions: TRANSACTION_END "OK\0"

=== conflict-abort-with-f
1: WRITE /a "1"
1: TRANSACTION_START "\0"
1: READ tx=$1 /a
2: WRITE /a "2"
1: TRANSACTION_END tx=$1 F

=== after-eagain-id-is-gone
1: WRITE /a "1"
1: TRANSACTION_START "\0"
1: READ tx=$1 /a
1: WRITE tx=$1 /a "tx"
2: WRITE /a "2"
1: TRANSACTION_END tx=$1 T
1: READ tx=$1 /a
1: TRANSACTION_END tx=$1 F
1: READ /a

=== no-conflict-disjoint
1: WRITE /a "1"
1: TRANSACTION_START "\0"
1: READ tx=$1 /a
1: WRITE tx=$1 /a "tx"
2: WRITE /b "other"
1: TRANSACTION_END tx=$1 T
1: READ /a

=== create-then-delete-in-transaction
1: TRANSACTION_START "\0"
1: WRITE tx=$1 /a/b "1"
1: RM tx=$1 /a
1: READ tx=$1 /a
1: TRANSACTION_END tx=$1 T
1: READ /a
1: DIRECTORY /

=== rm-in-transaction
1: WRITE /a/b "1"
1: TRANSACTION_START "\0"
1: RM tx=$1 /a
1: READ tx=$1 /a/b
1: DIRECTORY tx=$1 /
1: READ /a/b
1: TRANSACTION_END tx=$1 T
1: READ /a/b

=== two-transactions-delete-same-nodes
# XSA-440: two transactions removing the same subtree.
1: WRITE /a/b/c "1"
1: TRANSACTION_START "\0"
2: TRANSACTION_START "\0"
1: RM tx=$1 /a
2: RM tx=$1 /a
1: TRANSACTION_END tx=$1 T
2: TRANSACTION_END tx=$1 T
  ~ transactions-merge: TRANSACTION_END "OK\0"
1: READ /a
1: DIRECTORY /

=== transaction-operations-all-types
1: WRITE /a/x "1"
1: TRANSACTION_START "\0"
1: DIRECTORY tx=$1 /a
1: GET_PERMS tx=$1 /a
1: MKDIR tx=$1 /a/m
1: SET_PERMS tx=$1 /a/x n0 r3
1: GET_PERMS tx=$1 /a/x
1: DIRECTORY_PART tx=$1 /a 0
1: WRITE tx=$1 /a/y "2"
1: DIRECTORY tx=$1 /a
1: GET_PERMS /a/x
1: TRANSACTION_END tx=$1 T
1: GET_PERMS /a/x
1: DIRECTORY /a

=== transaction-domain-ops
# Operations that do not look at the tree still accept a valid tx_id.
1: TRANSACTION_START "\0"
1: GET_DOMAIN_PATH tx=$1 3
1: IS_DOMAIN_INTRODUCED tx=$1 0
1: CONTROL tx=$1 print "in a transaction\0"
1: TRANSACTION_END tx=$1 T

=== events-on-commit-only
1: WATCH /a tok
2: TRANSACTION_START "\0"
2: WRITE tx=$1 /a "1"
1: sync
2: TRANSACTION_END tx=$1 T
1: sync

=== no-events-on-abort
1: WATCH /a tok
2: TRANSACTION_START "\0"
2: WRITE tx=$1 /a "1"
2: RM tx=$1 /a
2: TRANSACTION_END tx=$1 F
1: sync

=== reset-watches-inside-transaction
# XSA-484: RESET_WATCHES also drops the caller's transactions.
1: TRANSACTION_START "\0"
1: WRITE tx=$1 /a "1"
1: RESET_WATCHES tx=$1 "\0"
1: READ tx=$1 /a
1: TRANSACTION_END tx=$1 T
1: READ /a

=== reset-watches-drops-transactions
1: TRANSACTION_START "\0"
1: WRITE tx=$1 /a "1"
1: RESET_WATCHES "\0"
1: TRANSACTION_END tx=$1 T
1: READ /a

=== close-drops-transaction
1: TRANSACTION_START "\0"
1: WRITE tx=$1 /a "1"
1: close
2: READ /a

=== transaction-relative-paths
1: TRANSACTION_START "\0"
1: WRITE tx=$1 rel "1"
1: READ tx=$1 /local/domain/0/rel
1: TRANSACTION_END tx=$1 T
1: READ rel

=== transaction-errors-do-not-end-it
1: TRANSACTION_START "\0"
1: READ tx=$1 /missing
1: WRITE tx=$1 "/a b\0v"
1: RM tx=$1 /missing/deeper
1: WRITE tx=$1 /ok "1"
1: TRANSACTION_END tx=$1 T
1: READ /ok

=== transaction-sees-own-deletes-and-recreates
1: WRITE /a "1"
1: TRANSACTION_START "\0"
1: RM tx=$1 /a
1: WRITE tx=$1 /a "2"
1: READ tx=$1 /a
1: TRANSACTION_END tx=$1 T
1: READ /a

=== transaction-ids-after-end-reused
1: TRANSACTION_START "\0"
1: TRANSACTION_END tx=$1 T
1: TRANSACTION_START "\0"
1: TRANSACTION_END tx=$1 T
1: TRANSACTION_END tx=$2 T

=== parent-removed-outside-during-transaction
1: WRITE /p/old "1"
1: TRANSACTION_START "\0"
1: WRITE tx=$1 /p/x "1"
2: RM /p
1: TRANSACTION_END tx=$1 T
1: DIRECTORY /

=== read-then-deleted-outside
1: WRITE /a "1"
1: TRANSACTION_START "\0"
1: READ tx=$1 /a
1: WRITE tx=$1 /b "1"
2: RM /a
1: TRANSACTION_END tx=$1 T
1: READ /b

=== perms-read-then-changed-outside
1: WRITE /a "1"
1: TRANSACTION_START "\0"
1: GET_PERMS tx=$1 /a
1: WRITE tx=$1 /b "1"
2: SET_PERMS /a n0 r3
1: TRANSACTION_END tx=$1 T
1: READ /b

=== mkdir-existing-in-transaction
1: WRITE /a "v"
1: TRANSACTION_START "\0"
1: MKDIR tx=$1 /a
1: READ tx=$1 /a
1: TRANSACTION_END tx=$1 T
1: READ /a

=== transaction-commit-fires-every-change
1: WATCH / all
1: sync
2: TRANSACTION_START "\0"
2: WRITE tx=$1 /x/y "1"
2: MKDIR tx=$1 /m
2: SET_PERMS tx=$1 /m n0 r1
2: RM tx=$1 /x/y
2: TRANSACTION_END tx=$1 T
# One event per changed node, none for /x/y, which never existed outside (as C's
# finalize_transaction).
1: sync

=== large-transaction
# 1100 nodes in one transaction: dom0 is not bound by the transaction-nodes quota.
1: TRANSACTION_START "\0"
*1100 1: WRITE tx=$1 /big/n{i} ""
1: TRANSACTION_END tx=$1 T
1: READ /big/n1099
1: RM /big

=== start-after-reset
1: TRANSACTION_START "\0"
1: RESET_WATCHES "\0"
1: TRANSACTION_START "\0"
1: WRITE tx=$2 /a "1"
1: TRANSACTION_END tx=$2 T
1: READ /a
1: TRANSACTION_END tx=$1 T

=== huge-transaction-id
1: TRANSACTION_END tx=0xffffffff T
1: READ tx=0x80000000 /

=== own-commit-events-before-reply
1: WATCH /a tok
1: sync
1: TRANSACTION_START "\0"
1: WRITE tx=$1 /a "1"
1: TRANSACTION_END tx=$1 T
1: sync

=== rm-in-transaction-fires-watches-below
1: WRITE /a/b/c "1"
2: WATCH /a/b/c deep
2: sync
1: TRANSACTION_START "\0"
1: RM tx=$1 /a
2: sync
1: TRANSACTION_END tx=$1 T
2: sync
