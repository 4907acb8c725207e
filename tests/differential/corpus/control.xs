# CONTROL (xenstore-control) commands that both daemons have, and their argument checks.

=== print
1: CONTROL print hello
1: CONTROL print
1: CONTROL print a b
1: CONTROL print "\0"

=== check
1: CONTROL check
1: WRITE /a/b "1"
1: CONTROL check
1: CONTROL check extra

=== log
1: CONTROL log on
1: CONTROL log off
1: CONTROL log maybe
1: CONTROL log
1: CONTROL log on off

=== unknown-command
1: CONTROL nosuchcommand
1: CONTROL ""
1: CONTROL "print"
1: CONTROL PRINT x

=== quota-arguments
1: CONTROL quota nosuchdomain
  ~ strict-numbers: ERROR "EINVAL\0"
1: CONTROL quota set
1: CONTROL quota set nodes
1: CONTROL quota-soft bad

=== connection-stays-usable
1: CONTROL nosuchcommand
1: CONTROL print
1: READ /tool

=== help-and-reports
# Replies about the daemon itself: each answers with its own text (deviations.md#control-output).
1: CONTROL help
  ~ control-output: CONTROL ...
1: CONTROL help extra
1: CONTROL quota
  ~ control-output: CONTROL ...
1: CONTROL quota-soft
  ~ control-output: CONTROL ...
1: CONTROL memreport
  ~ control-output: CONTROL ...
1: CONTROL logfile /dev/null
  ~ control-output: ERROR "EINVAL\0"
1: CONTROL live-update -a
  ~ control-output: ERROR "EINVAL\0"
1: CONTROL quota 0
  ~ control-output: CONTROL ...
1: CONTROL quota 9
