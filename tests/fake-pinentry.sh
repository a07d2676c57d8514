#!/bin/sh
# A scripted pinentry for tests: speaks just enough Assuan to stand in for a real one.
# Usage: fake-pinentry.sh DIR
#   DIR/reply  the D payload to answer GETPIN with, already percent-encoded; "cancel" makes it
#              answer like a person pressing Cancel; absent means an empty PIN.
#   DIR/log    receives every command line (never the reply).
#   DIR/hold   while it exists, GETPIN waits: the dialog stays open, as when a person is typing.
dir=$1
echo "OK Pleased to meet you"
while IFS= read -r line; do
  printf '%s\n' "$line" >> "$dir/log"
  case "$line" in
    GETPIN)
      while [ -e "$dir/hold" ]; do sleep 0.05; done
      reply=$(cat "$dir/reply" 2>/dev/null)
      if [ "$reply" = cancel ]; then
        echo "ERR 83886179 Operation cancelled <Pinentry>"
      else
        echo "S PIN_REPEATED"
        echo "# the PIN follows"
        [ -n "$reply" ] && printf 'D %s\n' "$reply"
        echo "OK"
      fi ;;
    BYE) echo "OK closing connection"; exit 0 ;;
    SETOK*) echo "ERR 536871187 Unknown IPC command <User defined source 1>" ;;
    *) echo "OK" ;;
  esac
done
