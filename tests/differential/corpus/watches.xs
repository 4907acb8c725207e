# Watches (§3.3, §5.2 item 6): the first event, subtree events, RM events, relative
# watches, duplicates, UNWATCH, RESET_WATCHES, special watches, huge tokens, 129+ watches.

=== first-event
1: WATCH /a tok
1: WATCH /missing/deeper tok
1: WATCH / root
1: sync

=== first-event-existing-node
1: WRITE /a "1"
1: WATCH /a tok
1: sync

=== write-fires
1: WATCH /a tok
2: WRITE /a "1"
1: sync
2: WRITE /a "1"
1: sync
2: WRITE /b "1"
1: sync

=== subtree-fires
1: WATCH /a tok
2: WRITE /a/b/c "1"
1: sync
2: WRITE /a/b/c "2"
1: sync
2: MKDIR /a/b/d
1: sync

=== parent-not-fired-by-child-watch
1: WATCH /a/b tok
2: WRITE /a "1"
2: WRITE /a/c "1"
1: sync
2: WRITE /a/b "1"
1: sync

=== own-write-fires-before-reply
1: WATCH /a tok
1: WRITE /a "1"
1: WRITE /a/b "2"
1: sync

=== mkdir-fires
1: WATCH /m tok
2: MKDIR /m
1: sync
2: MKDIR /m
1: sync

=== rm-fires
1: WRITE /a/b/c "1"
1: WATCH /a tok
2: RM /a/b/c
1: sync
2: RM /a
1: sync

=== rm-subtree-fires-watches-below
# Watches on removed descendants get an event naming their own path.
1: WRITE /a/b/c/d "1"
1: WRITE /a/e "1"
1: WATCH /a/b/c deep
1: WATCH /a/e leaf
1: WATCH /a/b/c/d/x below
1: sync
2: RM /a
1: sync

=== rm-missing-node-fires
1: WRITE /a "1"
1: WATCH /a/missing tok
2: RM /a/missing
1: sync

=== set-perms-fires
1: WRITE /a "1"
1: WATCH /a tok
2: SET_PERMS /a n0 r1
1: sync
2: SET_PERMS /a n0 r1
1: sync

=== failed-request-fires-nothing
1: WATCH / tok
2: READ /a
2: RM /nothing/deeper
2: WRITE "/a b\0v"
2: SET_PERMS /nothing n0
1: sync

=== relative-watch
# A relative watch's events name the path relative to the home.
1: WATCH rel tok
2: WRITE /local/domain/0/rel/x "1"
1: sync
2: RM /local/domain/0/rel
1: sync

=== relative-watch-of-home-subtree
1: WATCH sub abs
1: WATCH /local/domain/0/sub abs
1: WRITE sub/x "1"
1: sync
1: UNWATCH sub abs
1: WRITE sub/y "1"
1: sync

=== duplicate-watch
1: WATCH /a tok
1: WATCH /a tok
1: WATCH /a tok2
1: WATCH /a/ tok
1: WATCH /local/domain/0/r tok
1: WATCH r tok
2: WRITE /a "1"
1: sync

=== same-token-two-paths
1: WATCH /a tok
1: WATCH /b tok
2: WRITE /a "1"
2: WRITE /b "1"
1: sync

=== overlapping-watches
1: WATCH / all
1: WATCH /a a
1: WATCH /a/b ab
2: WRITE /a/b/c "1"
1: sync

=== unwatch
1: WATCH /a tok
1: UNWATCH /a tok
2: WRITE /a "1"
1: sync
1: UNWATCH /a tok
1: UNWATCH /never tok
1: UNWATCH /a other

=== unwatch-relative-and-invalid
1: WATCH rel tok
1: UNWATCH /local/domain/0/rel tok
1: WATCH /local/domain/0/abs tok
1: UNWATCH abs tok
1: UNWATCH "/a b\0tok\0"
1: UNWATCH /a/ tok
1: UNWATCH @introduceDomain tok

=== two-connections-same-watch
1: WATCH /a tok
2: WATCH /a tok
3: WRITE /a "1"
1: sync
2: sync

=== watch-with-transaction-id
# WATCH and UNWATCH ignore the header's tx_id, even an unknown one.
1: WATCH tx=999 /a t1
1: TRANSACTION_START "\0"
1: WATCH tx=$1 /b t2
1: UNWATCH tx=$1 /a t1
1: UNWATCH tx=12345 /b t2
1: TRANSACTION_END tx=$1 F

=== reset-watches
1: WATCH /a t1
1: WATCH /b t2
1: RESET_WATCHES "\0"
2: WRITE /a "1"
2: WRITE /b "1"
1: sync
1: WATCH /a t1
2: WRITE /a "2"
1: sync
1: UNWATCH /b t2

=== reset-watches-loop
*20 1: WATCH /a t
*20 1: RESET_WATCHES "\0"
1: WATCH /a t
1: UNWATCH /a t
1: UNWATCH /a t

=== events-not-sent-after-close
1: WATCH /a tok
1: close
2: WRITE /a "1"
2: sync

=== special-watches
1: WATCH @introduceDomain intro
1: WATCH @releaseDomain release
1: WATCH @releaseDomain/1 one
1: WATCH @other other
1: WATCH @ at
1: sync
2: WRITE /a "1"
1: sync

=== special-watches-duplicate-and-unwatch
1: WATCH @introduceDomain t
1: WATCH @introduceDomain t
1: UNWATCH @introduceDomain t
1: UNWATCH @introduceDomain t

=== huge-token-first-event
# The first event is the request's own strings: it always fits.
1: WATCH /a "t"*4090 "\0"
1: sync

=== huge-token-event-dropped
# An event over 4096 bytes is dropped (XSA-324); shorter ones still come.
1: WATCH /a "t"*4000 "\0"
2: WRITE /a/short "1"
1: sync
2: WRITE "/a/" "x"*100 "\0v"
1: sync
2: WRITE /a "2"
1: sync

=== huge-token-boundary
# /a/bb + NUL + 4089-byte token + NUL = 4096 bytes: delivered; one byte more: dropped.
1: WATCH /a "t"*4089 "\0"
2: WRITE /a/bb "1"
1: sync
2: WRITE /a/bbb "1"
1: sync

=== token-bytes
1: WATCH "/a\0\x01\xff tok\0"
1: WATCH "/a\0\0"
2: WRITE /a "1"
1: sync

=== many-watches
# dom0 is not bound by the watch quota (128 in C).
*130 1: WATCH /w/{i} t
2: WRITE /w/0 "1"
2: WRITE /w/129 "1"
1: sync

=== many-watches-one-path
*150 1: WATCH /w t{i:03}
# More events than the store sends before the frontend acknowledges some (64): the
# reply still comes after all of them, as in C.
2: WRITE /w "1"
1: sync
1: sync

=== event-order-across-connections
1: WATCH /a one
2: WATCH /a two
3: WRITE /a "1"
3: WRITE /a "2"
1: sync
2: sync

=== watch-root-sees-everything
1: WATCH / all
2: WRITE /x/y "1"
2: SET_PERMS /x n0
2: RM /x
2: WRITE rel "1"
1: sync

=== write-creating-parents-fires
1: WATCH /a tok
1: sync
2: WRITE /a/b/c "1"
1: sync
2: MKDIR /a/d/e
1: sync

=== rm-fires-relative-watch
1: WRITE rel/x/y "1"
1: WATCH rel/x/y deep
1: WATCH rel top
1: sync
2: RM /local/domain/0/rel
1: sync

=== unwatch-one-of-two-tokens
1: WATCH /a t1
1: WATCH /a t2
1: UNWATCH /a t1
2: WRITE /a "1"
1: sync

=== same-watch-on-new-connection
1: WATCH /a tok
1: close
2: WATCH /a tok
3: WRITE /a "1"
2: sync

=== set-perms-on-root-fires
1: WATCH / all
1: sync
2: SET_PERMS / n0
1: sync

=== watch-path-with-at
1: WATCH /a@b tok
2: WRITE /a@b/c "1"
1: sync

=== release-fires-other-connections
2: WATCH @releaseDomain rel
2: WATCH @introduceDomain intro
2: sync
1: INTRODUCE 3 1 7
2: sync
1: RELEASE 3
2: sync
