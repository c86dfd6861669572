#!/bin/sh
# The end-to-end test's guest agent (only in the TEST image, never in the
# product). It serves the virtio-serial port org.aptostree.agent: the host
# writes one line per command, "ID BASE64-OF-A-SHELL-SCRIPT"; the agent runs
# the script with sh and answers
#   @@E2E-BEGIN ID
#   BASE64-OF-ITS-OUTPUT (stdout and stderr together, one line)
#   @@E2E-END ID EXIT-STATUS
# While no host is connected, reads return end-of-file: reopen and wait.
PORT=/dev/virtio-ports/org.aptostree.agent
WORK=/run/e2e-agent
mkdir -p "$WORK"
while :; do
  if [ ! -e "$PORT" ]; then sleep 0.5; continue; fi
  exec 3<>"$PORT"
  while IFS= read -r line <&3; do
    id=${line%% *}
    printf '%s' "${line#* }" | base64 -d >"$WORK/cmd.sh" 2>/dev/null
    (cd /root 2>/dev/null || cd /; exec sh "$WORK/cmd.sh") </dev/null >"$WORK/out" 2>&1
    rc=$?
    { printf '@@E2E-BEGIN %s\n' "$id"; base64 -w0 "$WORK/out"; printf '\n@@E2E-END %s %s\n' "$id" "$rc"; } >&3
  done
  exec 3>&-
  sleep 0.5
done
