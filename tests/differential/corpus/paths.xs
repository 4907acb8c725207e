# Path syntax and length limits (§5.2 item 4). C: is_valid_nodename(): absolute, no
# trailing /, no //, only A-Za-z0-9-/_@, at most 2048 characters after a leading
# /local/domain/<domid>/ (path-max quota), the domid being read with sscanf("%5u").

=== root-forms
1: READ /
1: DIRECTORY /
1: WRITE / "rootvalue"
1: READ /
1: WRITE / ""

=== empty-path
# A relative empty path is the caller's home with a trailing / (invalid).
1: READ "\0"
1: WRITE "\0v"
1: MKDIR "\0"
1: RM "\0"
1: DIRECTORY "\0"
1: GET_PERMS "\0"
1: SET_PERMS "\0n0\0"

=== double-and-trailing-slashes
1: WRITE /a/b "1"
1: READ //a
1: READ /a//b
1: READ /a/
1: READ /a/b/
1: READ a/
1: WRITE /x// "1"
1: MKDIR //x
1: RM /a//b
1: READ /a/b

=== invalid-characters
1: WRITE "/a b\0v" 
1: WRITE "/a.b\0v"
1: WRITE "/a%b\0v"
1: WRITE "/caf\xc3\xa9\0v"
1: WRITE "/a\tb\0v"
1: WRITE "/a\nb\0v"
1: WRITE "/a:b\0v"
1: WRITE "/a*b\0v"
1: WRITE "/a\x7fb\0v"
1: READ "/a.b\0"
1: DIRECTORY "/a b\0"
1: RM "/a%b\0"
1: MKDIR "/x.y\0"
1: GET_PERMS "/\xff\0"
1: DIRECTORY /

=== at-sign-in-paths
# @ is a valid character anywhere; a path starting with @ is a special name, not a node.
1: WRITE /a@b "1"
1: READ /a@b
1: WRITE /@x "2"
1: READ /@x
1: READ @introduceDomain
1: WRITE @introduceDomain "v"
1: MKDIR @releaseDomain
1: RM @releaseDomain
1: DIRECTORY @introduceDomain
1: GET_PERMS @introduceDomain
1: READ @other
1: WRITE @ "v"

=== local-domain-prefix-forms
1: READ /local/domain/
1: WRITE /local/domain/ "v"
1: WRITE /local/domain/7/x "v"
1: READ /local/domain/7/x
1: WRITE /local/domain/99999/x "v"
1: READ /local/domain/99999/x
1: WRITE /local/domain/999999/x "v"
1: READ /local/domain/999999/x
1: WRITE /local/domain/4294967296/x "v"
1: DIRECTORY /local/domain

=== absolute-length-2048
1: WRITE "/" "a"*2047 "\0v"
1: READ "/" "a"*2047 "\0"
1: WRITE "/" "a"*2048 "\0v"
1: READ "/" "a"*2048 "\0"
1: MKDIR "/" "b"*2048 "\0"
1: RM "/" "a"*2048 "\0"
1: GET_PERMS "/" "a"*2048 "\0"

=== absolute-length-nested-2048
# 2048 characters in several components.
1: WRITE "/" "a"*1000 "/" "b"*1000 "/" "c"*45 "\0v"
1: READ "/" "a"*1000 "/" "b"*1000 "/" "c"*45 "\0"
1: WRITE "/" "a"*1000 "/" "b"*1000 "/" "c"*46 "\0v"
1: DIRECTORY "/" "a"*1000 "/" "b"*1000 "\0"

=== absolute-length-3072
1: WRITE "/" "a"*3071 "\0v"
1: WRITE "/" "a"*3072 "\0v"
1: READ "/" "a"*3071 "\0"
1: READ "/" "a"*3072 "\0"

=== domain-path-length-2048
# Under /local/domain/<domid>/ the limit counts after the prefix.
1: WRITE "/local/domain/0/" "a"*2048 "\0v"
1: READ "/local/domain/0/" "a"*2048 "\0"
1: WRITE "/local/domain/0/" "a"*2049 "\0v"
1: WRITE "/local/domain/12345/" "a"*2048 "\0v"
1: READ "/local/domain/12345/" "a"*2048 "\0"
1: WRITE "/local/domain/12345/" "a"*2049 "\0v"
1: WRITE "/local/domain/123456/" "a"*2048 "\0v"
1: WRITE "/local/domain/" "a"*2034 "\0v"
1: WRITE "/local/domain/" "a"*2035 "\0v"

=== domain-path-length-3072
1: WRITE "/local/domain/0/" "a"*3056 "\0v"
1: WRITE "/local/domain/0/" "a"*3057 "\0v"
1: WRITE "/local/domain/0/" "a"*3072 "\0v"

=== relative-length-2048
# Relative paths are prefixed with /local/domain/0/ first.
1: WRITE "a"*2048 "\0v"
1: READ "a"*2048 "\0"
1: WRITE "a"*2049 "\0v"
1: READ "a"*2049 "\0"
1: WRITE "a"*3072 "\0v"
1: WRITE "a"*3073 "\0v"

=== odd-domid-prefixes
# sscanf("%5u") takes a sign: C counts "/local/domain/-1/" as a domain prefix.
1: WRITE "/local/domain/-1/" "a"*2048 "\0v"
  ~ path-domain-prefix: ERROR "EINVAL\0"
1: WRITE "/local/domain/00000/" "a"*2048 "\0v"
1: WRITE "/local/domain/000000/" "a"*2048 "\0v"
1: WRITE "/local/domain/0x1/" "a"*2048 "\0v"
1: WRITE /local/domain/-1/x "v"
1: READ /local/domain/-1/x

=== watch-path-lengths
1: WATCH "/" "a"*2047 "\0t\0"
1: WATCH "/" "a"*2048 "\0t\0"
1: WATCH "@" "a"*2047 "\0t\0"
1: WATCH "@" "a"*2048 "\0t\0"
1: WATCH "a"*2048 "\0t\0"
1: WATCH "a"*2049 "\0t\0"
1: WATCH "/a b\0t\0"
1: WATCH "/a/\0t\0"
1: WATCH "//a\0t\0"
