#!/usr/bin/env bash
# galera-cluster.sh — start/stop a private 3-node MariaDB Galera cluster on
# 127.0.0.1 for local testing of ctlstore against a multi-primary ctldb.
#
# Usage:
#   scripts/galera-cluster.sh start   DIR BASEPORT  # bootstrap node1, join node2/3, wait for size=3
#   scripts/galera-cluster.sh stop    DIR           # SIGTERM all nodes, wait (<=60s), then SIGKILL
#   scripts/galera-cluster.sh kill    DIR N         # SIGKILL node N (fault injection)
#   scripts/galera-cluster.sh restart DIR N         # restart a killed/stopped node N; it rejoins (IST/SST)
#   scripts/galera-cluster.sh status  DIR           # print wsrep state of every node
#
# Port layout (node N = 1..3, i = N-1):
#   SQL     127.0.0.1:BASEPORT+i        gcomm (group comm) BASEPORT+10+i
#   SST     BASEPORT+20+i (rsync)       IST                BASEPORT+30+i
# Files: DIR/nodeN/ (datadir), DIR/nodeN.cnf, DIR/nodeN.err (error log),
#        DIR/nodeN.pid, DIR/nodeN.sock, DIR/baseport.
# On success `start` prints the three SQL ports (one line, space separated).
# root has an empty password over TCP from 127.0.0.1 (root@127.0.0.1 / root@%),
# and a database `ctldb` exists.
#
# Requirements: mariadbd (10.4+), galera-4 (libgalera_smm.so), rsync (SST).
# When run as root the nodes run as the 'mysql' user (GALERA_RUN_USER) and DIR
# is chowned to it (rsync SST does not work with root-owned datadirs).
# `start` on an existing DIR re-bootstraps from node1 (forces safe_to_bootstrap).
#
# Failure detection is tuned (evs.* options below): a COMMIT on a surviving
# node stalls ~1.5 s after a peer is SIGKILLed (measured 1.50-1.58 s) instead of
# 5.3-6.1 s with Galera defaults. GALERA_EVS_OPTS="" restores the defaults;
# a more aggressive set (suspect PT0.5S, inactive PT1S, keepalive/check PT0.1S,
# install PT1S) measured 0.57-0.68 s but risks false evictions on a busy host.
# Env: GALERA_WAIT_TIMEOUT (default 60 s), GALERA_PROVIDER, GALERA_EVS_OPTS.
set -euo pipefail

WAIT_TIMEOUT=${GALERA_WAIT_TIMEOUT:-60}   # seconds; every wait is bounded by this
NODES=3

# Faster failure detection. Constraints (checked by galera at startup):
#   inactive_check_period <= suspect_timeout <= inactive_timeout,
#   keepalive_period <= suspect_timeout, install_timeout <= inactive_timeout.
GALERA_EVS_OPTS=${GALERA_EVS_OPTS-"evs.suspect_timeout=PT1S;evs.inactive_timeout=PT2S;evs.keepalive_period=PT0.2S;evs.inactive_check_period=PT0.3S;evs.install_timeout=PT2S;evs.join_retrans_period=PT0.2S"}

die() { echo "galera-cluster.sh: error: $*" >&2; exit 1; }
log() { echo "galera-cluster.sh: $*" >&2; }

usage() {
  sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

find_provider() {
  local p
  for p in ${GALERA_PROVIDER:-} /usr/lib/galera/libgalera_smm.so /usr/lib/libgalera_smm.so \
           /usr/lib64/galera-4/libgalera_smm.so /usr/lib/galera-4/libgalera_smm.so; do
    [[ -n $p && -f $p ]] && { echo "$p"; return 0; }
  done
  if command -v dpkg >/dev/null 2>&1; then
    p=$(dpkg -L galera-4 2>/dev/null | grep -m1 'libgalera_smm\.so$' || true)
    [[ -n $p && -f $p ]] && { echo "$p"; return 0; }
  fi
  return 1
}

find_bin() { # name...
  local b
  for b in "$@"; do
    if command -v "$b" >/dev/null 2>&1; then command -v "$b"; return 0; fi
    for d in /usr/sbin /usr/bin /usr/local/sbin /usr/local/bin; do
      [[ -x $d/$b ]] && { echo "$d/$b"; return 0; }
    done
  done
  return 1
}

MARIADBD=$(find_bin mariadbd mysqld) || die "mariadbd not found"
CLIENT=$(find_bin mariadb mysql) || die "mariadb client not found"

# When run as root, the nodes run as the unprivileged 'mysql' user: the rsync
# SST joiner runs an rsync daemon, which as root drops to uid 'nobody' and then
# cannot write into a root-owned datadir (rsync error 23).
RUN_USER=""
if [[ $(id -u) -eq 0 ]]; then
  RUN_USER=${GALERA_RUN_USER:-mysql}
  id "$RUN_USER" >/dev/null 2>&1 || die "running as root but user '$RUN_USER' does not exist (set GALERA_RUN_USER)"
fi
own() { # paths... -> make them owned by RUN_USER (no-op when not root)
  [[ -n $RUN_USER ]] || return 0
  chown -R "$RUN_USER": "$@"
}

absdir() { mkdir -p "$1" && (cd "$1" && pwd -P); }

sqlport()  { echo $(( BASEPORT + $1 - 1 )); }
gcomport() { echo $(( BASEPORT + 10 + $1 - 1 )); }
sstport()  { echo $(( BASEPORT + 20 + $1 - 1 )); }
istport()  { echo $(( BASEPORT + 30 + $1 - 1 )); }

# Run SQL on node N via its private socket as root (empty password).
sql() { # N query
  "$CLIENT" --no-defaults --protocol=socket -S "$DIR/node$1.sock" -uroot \
    --connect-timeout=5 -N -B -e "$2"
}
status_var() { # N var -> value (empty on failure)
  sql "$1" "SHOW GLOBAL STATUS LIKE '$2'" 2>/dev/null | awk '{print $2}' || true
}

node_pid() { # N -> pid if the process is alive
  local f="$DIR/node$1.pid" pid
  [[ -f $f ]] || return 1
  pid=$(tr -dc '0-9' <"$f")
  [[ -n $pid ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # guard against pid reuse
  case "$(cat /proc/"$pid"/comm 2>/dev/null || true)" in
    mariadbd|mysqld) echo "$pid" ;;
    *) return 1 ;;
  esac
}

check_port_free() { # port
  if command -v ss >/dev/null 2>&1 && ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; then
    die "port $1 is already in use (choose another BASEPORT)"
  fi
}

write_cnf() { # N
  local n=$1 user_line="" peers
  peers="127.0.0.1:$(gcomport 1),127.0.0.1:$(gcomport 2),127.0.0.1:$(gcomport 3)"
  [[ -n $RUN_USER ]] && user_line="user=$RUN_USER"
  cat >"$DIR/node$n.cnf" <<EOF
# generated by galera-cluster.sh — node$n of the private cluster in $DIR
[mysqld]
$user_line
datadir=$DIR/node$n
socket=$DIR/node$n.sock
pid-file=$DIR/node$n.pid
log-error=$DIR/node$n.err
port=$(sqlport "$n")
bind-address=127.0.0.1
skip-name-resolve
character-set-server=utf8mb4
collation-server=utf8mb4_general_ci
performance_schema=OFF
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
innodb_buffer_pool_size=64M
innodb_log_file_size=48M
innodb_flush_log_at_trx_commit=2
max_connections=200
wsrep_on=ON
wsrep_provider=$PROVIDER
wsrep_cluster_name=ctlstore-galera-$BASEPORT
wsrep_cluster_address=gcomm://$peers
wsrep_node_name=node$n
wsrep_node_address=127.0.0.1:$(gcomport "$n")
wsrep_node_incoming_address=127.0.0.1:$(sqlport "$n")
wsrep_provider_options="base_host=127.0.0.1;base_port=$(gcomport "$n");gmcast.listen_addr=tcp://127.0.0.1:$(gcomport "$n");ist.recv_addr=127.0.0.1:$(istport "$n");gcache.size=64M;${GALERA_EVS_OPTS}"
wsrep_sst_method=rsync
wsrep_sst_receive_address=127.0.0.1:$(sstport "$n")
wsrep_slave_threads=2
wsrep_auto_increment_control=ON

[sst]
progress=0
EOF
}

launch() { # N [extra mariadbd args...]
  local n=$1; shift
  local pid
  : >>"$DIR/node$n.err"; : >>"$DIR/node$n.pid"
  own "$DIR/node$n" "$DIR/node$n.err" "$DIR/node$n.pid"
  echo "==== $(date '+%F %T') galera-cluster.sh: launching node$n $*" >>"$DIR/node$n.err"
  # setsid: own session so the caller's job control/signals don't hit the node.
  setsid "$MARIADBD" --defaults-file="$DIR/node$n.cnf" "$@" \
    </dev/null >>"$DIR/node$n.err" 2>&1 &
  pid=$!
  echo "$pid" >"$DIR/node$n.pid"
  sleep 0.3
  kill -0 "$pid" 2>/dev/null || { tail -n 30 "$DIR/node$n.err" >&2; die "node$n exited immediately (see $DIR/node$n.err)"; }
}

wait_node_ready() { # N -> waits for wsrep_ready=ON and Synced
  local n=$1 deadline=$(( SECONDS + WAIT_TIMEOUT )) ready="" state=""
  while (( SECONDS < deadline )); do
    if ! node_pid "$n" >/dev/null; then
      tail -n 40 "$DIR/node$n.err" >&2 || true
      die "node$n died while starting (see $DIR/node$n.err)"
    fi
    ready=$(status_var "$n" wsrep_ready)
    state=$(status_var "$n" wsrep_local_state_comment)
    if [[ $ready == ON && $state == Synced ]]; then return 0; fi
    sleep 0.5
  done
  tail -n 40 "$DIR/node$n.err" >&2 || true
  die "node$n not ready (wsrep_ready='$ready', state='$state') after ${WAIT_TIMEOUT}s (see $DIR/node$n.err)"
}

wait_cluster_size() { # expected
  local want=$1 deadline=$(( SECONDS + WAIT_TIMEOUT )) n ok sizes
  while (( SECONDS < deadline )); do
    ok=1; sizes=""
    for n in $(seq 1 $NODES); do
      local s r
      s=$(status_var "$n" wsrep_cluster_size); r=$(status_var "$n" wsrep_ready)
      sizes+=" node$n=${s:-?}/${r:-?}"
      [[ $s == "$want" && $r == ON ]] || ok=0
    done
    (( ok )) && return 0
    sleep 0.5
  done
  die "cluster did not reach size $want with wsrep_ready=ON within ${WAIT_TIMEOUT}s (size/ready:$sizes)"
}

load_baseport() {
  [[ -f $DIR/baseport ]] || die "$DIR/baseport missing — was the cluster started with 'start $DIR PORT'?"
  BASEPORT=$(cat "$DIR/baseport")
}

check_n() { [[ ${1:-} =~ ^[1-3]$ ]] || die "node number must be 1, 2 or 3 (got '${1:-}')"; }

# --------------------------------------------------------------------------
cmd_start() {
  [[ ${BASEPORT:-} =~ ^[0-9]+$ ]] && (( BASEPORT >= 1024 && BASEPORT <= 65500 )) \
    || die "BASEPORT must be a number in 1024..65500"
  PROVIDER=$(find_provider) || die "libgalera_smm.so not found (install galera-4 or set GALERA_PROVIDER)"
  command -v rsync >/dev/null 2>&1 || die "rsync is required for SST (wsrep_sst_method=rsync)"
  local n
  for n in $(seq 1 $NODES); do
    node_pid "$n" >/dev/null && die "node$n already running in $DIR (pid $(node_pid "$n")); run 'stop $DIR' first"
  done
  for n in $(seq 1 $NODES); do
    check_port_free "$(sqlport "$n")"; check_port_free "$(gcomport "$n")"
    check_port_free "$(sstport "$n")"; check_port_free "$(istport "$n")"
  done
  echo "$BASEPORT" >"$DIR/baseport"
  for n in $(seq 1 $NODES); do write_cnf "$n"; mkdir -p "$DIR/node$n"; done

  local fresh=0
  if [[ ! -d $DIR/node1/mysql ]]; then
    fresh=1
    log "initializing node1 datadir"
    local iu=(); [[ -n $RUN_USER ]] && iu=(--user="$RUN_USER")
    own "$DIR"
    if [[ -n $RUN_USER ]] && command -v runuser >/dev/null 2>&1; then
      runuser -u "$RUN_USER" -- test -w "$DIR/node1" \
        || die "user '$RUN_USER' cannot write to $DIR/node1 (a parent directory is not accessible?)"
    fi
    mariadb-install-db --no-defaults "${iu[@]}" --datadir="$DIR/node1" \
      --auth-root-authentication-method=normal --skip-test-db \
      --innodb-buffer-pool-size=64M --innodb-log-file-size=48M \
      >"$DIR/install-db.log" 2>&1 || { tail -n 30 "$DIR/install-db.log" >&2; die "mariadb-install-db failed (see $DIR/install-db.log)"; }
  elif [[ -f $DIR/node1/grastate.dat ]]; then
    # Re-start of an existing cluster: force node1 to be the bootstrap node.
    sed -i 's/^safe_to_bootstrap:.*/safe_to_bootstrap: 1/' "$DIR/node1/grastate.dat"
  fi

  log "bootstrapping node1 on port $(sqlport 1)"
  launch 1 --wsrep-new-cluster
  wait_node_ready 1

  if (( fresh )); then
    sql 1 "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
           GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
           CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '';
           GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
           CREATE DATABASE IF NOT EXISTS ctldb;" \
      || die "could not create users/database on node1"
  fi

  for n in 2 3; do
    log "starting node$n on port $(sqlport "$n") (joins via IST/SST)"
    launch "$n"
    wait_node_ready "$n"
  done
  wait_cluster_size 3
  "$CLIENT" --no-defaults -h127.0.0.1 -P"$(sqlport 1)" -uroot -N -e "SELECT 1" >/dev/null \
    || die "cannot connect as root over TCP to 127.0.0.1:$(sqlport 1)"
  log "cluster up: size 3, all nodes wsrep_ready=ON"
  echo "$(sqlport 1) $(sqlport 2) $(sqlport 3)"
}

cmd_stop() {
  local n pid pids=() deadline
  for n in $(seq 1 $NODES); do
    if pid=$(node_pid "$n"); then kill -TERM "$pid" 2>/dev/null || true; pids+=("$n:$pid"); fi
  done
  deadline=$(( SECONDS + WAIT_TIMEOUT ))
  local e alive
  while :; do
    alive=0
    for e in "${pids[@]}"; do kill -0 "${e#*:}" 2>/dev/null && alive=1; done
    (( alive == 0 )) && break
    if (( SECONDS >= deadline )); then
      for e in "${pids[@]}"; do
        if kill -0 "${e#*:}" 2>/dev/null; then
          log "node${e%%:*} (pid ${e#*:}) did not stop in ${WAIT_TIMEOUT}s; sending SIGKILL"
          kill -KILL "${e#*:}" 2>/dev/null || true
        fi
      done
      sleep 0.5; break
    fi
    sleep 0.2
  done
  for n in $(seq 1 $NODES); do rm -f "$DIR/node$n.pid"; done
  log "stopped ${#pids[@]} node(s)"
}

cmd_kill() {
  local n=$1 pid
  pid=$(node_pid "$n") || die "node$n is not running"
  kill -KILL "$pid"
  local deadline=$(( SECONDS + WAIT_TIMEOUT ))
  while kill -0 "$pid" 2>/dev/null; do
    (( SECONDS < deadline )) || die "node$n (pid $pid) still alive after SIGKILL"
    sleep 0.05
  done
  log "node$n (pid $pid) killed"
}

cmd_restart() {
  local n=$1 pid pos
  PROVIDER=$(find_provider) || die "libgalera_smm.so not found"
  if pid=$(node_pid "$n"); then die "node$n is still running (pid $pid); kill or stop it first"; fi
  [[ -f $DIR/node$n.cnf ]] || die "$DIR/node$n.cnf missing"
  local others=0 m
  for m in $(seq 1 $NODES); do [[ $m != "$n" ]] && node_pid "$m" >/dev/null && others=$((others+1)); done
  (( others > 0 )) || die "no other node is running; use 'start $DIR $BASEPORT' to bootstrap the cluster again"
  rm -f "$DIR/node$n.sock" "$DIR/node$n.sock.lock"
  # After a crash grastate.dat has seqno -1; recover the real position from
  # InnoDB so the node can rejoin with IST instead of a full SST.
  log "recovering wsrep position of node$n"
  local rlog="$DIR/node$n.recover.log"
  : >"$rlog"; own "$rlog" "$DIR/node$n"
  timeout "$WAIT_TIMEOUT" "$MARIADBD" --defaults-file="$DIR/node$n.cnf" --wsrep-recover \
    --log-error="$rlog" >/dev/null 2>&1 || log "warning: --wsrep-recover failed (see $rlog); node will use SST"
  pos=$(grep -o 'Recovered position: [^ ]*' "$rlog" 2>/dev/null | tail -n1 | awk '{print $3}' || true)
  cat "$rlog" >>"$DIR/node$n.err" 2>/dev/null || true; rm -f "$rlog"
  if [[ -n $pos && $pos != *:-1 ]]; then
    log "node$n restarting at position $pos"
    launch "$n" --wsrep-start-position="$pos"
  else
    launch "$n"
  fi
  wait_node_ready "$n"
  local deadline=$(( SECONDS + WAIT_TIMEOUT )) s
  while :; do
    s=$(status_var "$n" wsrep_cluster_size)
    [[ $s == $(( others + 1 )) ]] && break
    (( SECONDS < deadline )) || die "node$n rejoined but cluster size is '$s' (want $((others+1)))"
    sleep 0.3
  done
  local how="SST"
  awk '/galera-cluster.sh: launching/{buf=""} {buf=buf"\n"$0} END{print buf}' "$DIR/node$n.err" \
    | grep -q 'Receiving IST' && how="IST"
  log "node$n rejoined via $how (cluster size $s)"
  echo "$(sqlport "$n")"
}

cmd_status() {
  local n
  for n in $(seq 1 $NODES); do
    if pid=$(node_pid "$n"); then
      echo "node$n pid=$pid port=$(sqlport "$n") size=$(status_var "$n" wsrep_cluster_size) ready=$(status_var "$n" wsrep_ready) state=$(status_var "$n" wsrep_local_state_comment)"
    else
      echo "node$n down"
    fi
  done
}

# --------------------------------------------------------------------------
[[ $# -ge 2 ]] || usage
CMD=$1
if [[ $CMD == start ]]; then
  DIR=$(absdir "$2") || die "cannot create directory '$2'"
else
  [[ -d $2 ]] || die "directory '$2' does not exist"
  DIR=$(cd "$2" && pwd -P)
fi
case "$CMD" in
  start)   [[ $# -eq 3 ]] || usage; BASEPORT=$3; cmd_start ;;
  stop)    [[ $# -eq 2 ]] || usage; cmd_stop ;;
  kill)    [[ $# -eq 3 ]] || usage; check_n "$3"; cmd_kill "$3" ;;
  restart) [[ $# -eq 3 ]] || usage; check_n "$3"; load_baseport; cmd_restart "$3" ;;
  status)  [[ $# -eq 2 ]] || usage; load_baseport; cmd_status ;;
  *) usage ;;
esac
