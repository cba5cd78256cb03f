#!/usr/bin/env bash
# Makes sure the local PostgreSQL, Redis and RabbitMQ this project's tests and run command use are
# up, starting each that is not. Idempotent; safe to run when they already are.
set -euo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; }
rabbit_up() { (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; }

if ! pg_up; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi
if ! redis_up; then
  echo "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
if ! rabbit_up; then
  echo "starting RabbitMQ"
  rabbitmq-server -detached || true
fi

for i in $(seq 1 120); do
  if pg_up && redis_up && rabbit_up; then
    # The AMQP port opens slightly before the node accepts vhost commands.
    if rabbitmqctl -q list_vhosts >/dev/null 2>&1; then exit 0; fi
  fi
  sleep 1
done
echo "servers did not come up: postgres=$(pg_up && echo up || echo down) redis=$(redis_up && echo up || echo down) rabbitmq=$(rabbit_up && echo up || echo down)" >&2
exit 1
