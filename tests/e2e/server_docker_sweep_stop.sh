#!/usr/bin/env bash
# The docker sweep that `sluice serve` and `sluice agent` start in a thread (docker.c
# sl_exec_docker_sweep_start) is ended and waited for at their stop, however the engine
# answers: here DOCKER_HOST is a socket that accepts and never answers, so the sweep's first
# call (its ping) hangs until the stop gives it up. The server and the agent then stop with
# exit code 0, with no sanitizer report (the ASan and TSan builds: no thread of the sweep
# runs on into the exit's teardown), and say that the stop ended the sweep.
. "$(dirname "$0")/lib/e2e.sh"
needs curl python3 git
. "$(dirname "$0")/lib/server.sh"
. "$(dirname "$0")/lib/agents.sh"

sock=$tmp/engine.sock
# the engine that never answers: counts its connections in $tmp/accepted, keeps them open
python3 - "$sock" "$tmp/accepted" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(16)
held = []
while True:
    c, _ = s.accept()
    held.append(c)
    with open(sys.argv[2], "a") as f:
        f.write("x\n")
PY
engine=$!
at_exit "kill $engine 2>/dev/null"
engine_up() { [[ -S $sock ]]; }
wait_for 30 engine_up || { bad "the fake engine listens"; finish; exit 1; }
export DOCKER_HOST=unix://$sock
accepted() { [[ $(cat "$tmp/accepted" 2>/dev/null | wc -l) -ge $1 ]]; }
ended='docker: sweep of dead sluice processes'"'"' containers ended by the stop'

server_start --workers 1 || { bad "the server starts"; finish; exit 1; }
if wait_for 60 accepted 1; then ok "the server's sweep calls the engine"; else
  bad "the server's sweep calls the engine" "$(tail -20 "$tmp/err")"
fi
server_stop
if grep -qF "$ended" "$tmp/err"; then ok "the server's stop ended its sweep"; else
  bad "the server's stop ended its sweep" "$(tail -20 "$tmp/err")"
fi

# an agent (--executor auto) sweeps at its start too; the server without workers does not
server_start --workers 0 || { bad "the server starts again"; finish; exit 1; }
tok=$(runner_token sweeper)
agent_start sweeper "$tok"
if wait_for 60 accepted 2; then ok "the agent's sweep calls the engine"; else
  bad "the agent's sweep calls the engine" "$(tail -20 "$tmp/sweeper.err")"
fi
agent_stop sweeper
if grep -qF "$ended" "$tmp/sweeper.err"; then ok "the agent's stop ended its sweep"; else
  bad "the agent's stop ended its sweep" "$(tail -20 "$tmp/sweeper.err")"
fi
server_stop
finish
