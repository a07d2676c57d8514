#!/bin/bash
# The LDAP peer: what an admin runs from cron today instead of the agent, against the same
# directory. The password comes from the keyring (secret-tool); ldapsearch binds with the
# password-policy control and reads the person's own pwdChangedTime; the days left are the
# server's "Password expires in N seconds" when it says so (inside the warning window), else
# pwdChangedTime + the policy's 90 days; notify-send warns from 14 days before the deadline.
# No secret goes into argv: ldapsearch reads the password from stdin (-y /dev/stdin).
#   PEER_LDAP_URL PEER_LDAP_DN [PEER_NOTIFY=0]  peer-ldap.sh
set -euo pipefail
out=$(secret-tool lookup service peer-check user "$PEER_LDAP_DN" |
  ldapsearch -LLL -x -e ppolicy -H "$PEER_LDAP_URL" -D "$PEER_LDAP_DN" -y /dev/stdin \
    -b "$PEER_LDAP_DN" -s base pwdChangedTime 2>&1)
seconds=$(sed -n 's/.*Password expires in \([0-9]*\) seconds.*/\1/p' <<<"$out")
if [ -z "$seconds" ]; then
  changed=$(sed -n 's/^pwdChangedTime: \(....\)\(..\)\(..\)\(..\)\(..\)\(..\)Z$/\1-\2-\3 \4:\5:\6Z/p' <<<"$out")
  [ -n "$changed" ] || { echo "no answer from the directory: $out" >&2; exit 1; }
  seconds=$(( $(date -d "$changed" +%s) + 90 * 86400 - $(date +%s) ))
fi
left=$(( seconds / 86400 ))
if [ "$left" -le 14 ] && [ "${PEER_NOTIFY:-1}" = 1 ]; then
  notify-send -t 5000 "Your password expires in $left days" "Change it now to keep your mail working."
fi
echo "$left"
