#!/bin/sh
# A scripted pinentry for tests: speaks just enough Assuan to stand in for a real one.
# Usage: fake-pinentry.sh DIR
#   DIR/reply    the D payload to answer GETPIN with, already percent-encoded; "cancel" makes it
#                answer like a person pressing Cancel; absent means an empty PIN.
#   DIR/replies  if present, one reply per line: the Nth GETPIN answers line N, counted across runs
#                in DIR/count (a dialog that asks several times, e.g. to change a password).
#   DIR/log      receives every command line and inquiry answer (never the reply).
#   DIR/hold     while it exists, GETPIN waits: the dialog stays open, as when a person is typing.
#   DIR/norepeat if present, SETREPEAT is refused, as by an old pinentry.
# Like a real pinentry, after SETREPEAT the next GETPIN reports "S PIN_REPEATED" (the person typed
# it twice), and after SETQUALITYBAR it asks the client "INQUIRE QUALITY <pin>" before answering.
dir=$1
repeat=
quality=
echo "OK Pleased to meet you"
while IFS= read -r line; do
  printf '%s\n' "$line" >> "$dir/log"
  case "$line" in
    GETPIN)
      n=$(( $(cat "$dir/count" 2>/dev/null || echo 0) + 1 ))
      echo "$n" > "$dir/count"
      while [ -e "$dir/hold" ]; do sleep 0.05; done
      if [ -e "$dir/replies" ]; then
        reply=$(sed -n "${n}p" "$dir/replies")
      else
        reply=$(cat "$dir/reply" 2>/dev/null)
      fi
      if [ "$reply" = cancel ]; then
        echo "ERR 83886179 Operation cancelled <Pinentry>"
      else
        if [ -n "$quality" ] && [ -n "$reply" ]; then
          echo "INQUIRE QUALITY $reply"
          while IFS= read -r answer; do
            printf '%s\n' "$answer" >> "$dir/log"
            [ "$answer" = END ] && break
          done
        fi
        [ -n "$repeat" ] && echo "S PIN_REPEATED"
        echo "# the PIN follows"
        [ -n "$reply" ] && printf 'D %s\n' "$reply"
        echo "OK"
      fi
      repeat=
      quality= ;;
    BYE) echo "OK closing connection"; exit 0 ;;
    SETOK*) echo "ERR 536871187 Unknown IPC command <User defined source 1>" ;;
    "SETREPEAT "*)
      if [ -e "$dir/norepeat" ]; then
        echo "ERR 536871187 Unknown IPC command <User defined source 1>"
      else
        repeat=1; echo "OK"
      fi ;;
    "SETQUALITYBAR "*) quality=1; echo "OK" ;;
    *) echo "OK" ;;
  esac
done
