#!/bin/bash
# The peer: what an admin runs from cron today instead of the agent, against the same
# endpoint. The password comes from the keyring (secret-tool), a resource-owner password grant
# gets a token, Graph says when the password last changed and the domain's validity period,
# and notify-send warns from 14 days before the deadline. No secret goes into argv: curl reads
# the form field and the Authorization header from stdin.
#   PEER_BASE PEER_TENANT PEER_CLIENT PEER_USER [PEER_NOTIFY=0]  peer-entra.sh
set -euo pipefail
domain=${PEER_USER#*@}
token=$(secret-tool lookup service peer-check user "$PEER_USER" |
  curl -sS --fail -X POST "$PEER_BASE/$PEER_TENANT/oauth2/v2.0/token" \
    --data-urlencode grant_type=password --data-urlencode "client_id=$PEER_CLIENT" \
    --data-urlencode "username=$PEER_USER" --data-urlencode "password@-" \
    --data-urlencode "scope=https://graph.microsoft.com/User.Read" | jq -er .access_token)
graph() { printf 'Authorization: Bearer %s\n' "$token" | curl -sS --fail -H @- "$PEER_BASE/v1.0/$1"; }
changed=$(graph 'me?$select=lastPasswordChangeDateTime,passwordPolicies' | jq -er .lastPasswordChangeDateTime)
validity=$(graph "domains/$domain" | jq -r '.passwordValidityPeriodInDays // 90')
left=$(( ($(date -d "$changed" +%s) + validity * 86400 - $(date +%s)) / 86400 ))
if [ "$left" -le 14 ] && [ "${PEER_NOTIFY:-1}" = 1 ]; then
  notify-send -t 5000 "Your password expires in $left days" "Change it now to keep your mail working."
fi
echo "$left"
