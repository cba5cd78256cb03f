# Shared by scripts/start and scripts/demo (sourced, not run): configuration, starting and stopping
# the three services, waiting until they are ready, and seeding the demo program.

# Exports the variables of .env, or of .env.example when there is none (local development).
load_env() {
  env_file=.env
  [ -f "$env_file" ] || env_file=.env.example
  echo "configuration: $env_file"
  set -a
  # shellcheck disable=SC1090
  . "./$env_file"
  set +a
}

service_pids=()
# start_services <log dir or ""> <authorizer port> <ingest port> <worker port>
start_services() {
  local logs=$1; shift
  local ports=("$@") i=0
  for service in jit-authorizer webhook-ingest txn-worker; do
    local port=${ports[$i]}; i=$((i + 1))
    if [ -n "$logs" ]; then
      (cd "services/$service" && PORT=$port exec node dist/server.js >"$logs/$service.log" 2>&1) &
    else
      (cd "services/$service" && PORT=$port exec node dist/server.js) &
    fi
    service_pids+=("$!")
  done
}

stop_services() {
  for pid in "${service_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${service_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  service_pids=()
}

# wait_ready <port>...: every service answers /ready (at most 90 s); fails when one exits first.
wait_ready() {
  for _ in $(seq 1 180); do
    local ready=1
    for port in "$@"; do curl -fs -o /dev/null "http://127.0.0.1:$port/ready" || ready=0; done
    [ $ready -eq 1 ] && return 0
    for pid in "${service_pids[@]}"; do kill -0 "$pid" 2>/dev/null || { echo "a service exited while starting" >&2; return 1; }; done
    sleep 0.5
  done
  echo "the services were not ready within 90 s" >&2
  return 1
}

# jit_sim <args>: the processor simulator against the services started here.
jit_sim() {
  node packages/processor-sim/dist/cli.js "$@" --gateway "http://127.0.0.1:$gateway_port" --ingest "http://127.0.0.1:$ingest_port" --worker "http://127.0.0.1:$worker_port"
}

# Prints a curl that gets a 200 from the gateway (checked first) for the demo program's first card.
print_try() {
  local body='{"type":"authorization","state":"PENDING","token":"try-auth-1","user_token":"demo-user-0001","card_token":"demo-card-0001","currency_code":"USD","amount":12.5,"gpa_order":{"jit_funding":{"token":"try-jit-1","method":"pgfs.authorization","user_token":"demo-user-0001","amount":12.5}}}'
  local url="http://127.0.0.1:$gateway_port/v1/jit-funding"
  local status
  status=$(curl -s -o /dev/null -w '%{http_code}' -u "$JIT_BASIC_AUTH" -H 'content-type: application/json' -d "$body" "$url" || true)
  echo
  echo "try it (answered $status; the same JIT token always gets the same answer):"
  echo "  curl -s -u '$JIT_BASIC_AUTH' -H 'content-type: application/json' $url -d '$body'"
  echo "then play every ledger scenario as the processor would:"
  echo "  pnpm jit-sim scenarios"
}
