#!/usr/bin/env bash
# deploy/cluster/certs.sh: the cluster's TLS files with openssl: a CA, and one certificate per node signed by it.
#
# Every member of a ShardRuntime cluster presents a certificate signed by the cluster's CA and accepts only peers that do
# (Akka.Remote over TLS with mutual authentication; shard-runtime.cluster.tls in src/Actors/reference.conf).
#
# Usage: deploy/cluster/certs.sh [--dir DIR] [--days N] [--owner UID[:GID]] [NODE[=ADDRESS,...] ...]
#   NODE          a node name (default: seed node2 node3, as in docker-compose.yml and local.sh); ADDRESS: IP addresses
#                 or DNS names it is also known by (for example seed=127.0.0.11), put in the certificate's subjectAltName
#   --dir DIR     where the files go (default deploy/cluster/certs, which git ignores); mode 0700
#   --days N      how long node certificates are valid (default 397); the CA: 10 years
#   --owner U:G   chown the keys and certificates (as root): for containers that run as another user (the image's
#                 APP_UID is 1654: --owner 1654)
#
# Files: DIR/ca.pem (the trusted CA: shard-runtime.cluster.tls.trusted-ca), DIR/ca-key.pem (keep it away from the
# nodes), DIR/NODE.pem (certificate: tls.certificate), DIR/NODE-key.pem (mode 0600: tls.private-key).
# An existing CA in DIR is kept and used (bring your own: put ca.pem and ca-key.pem there first); an existing node
# certificate is replaced (renewal: run again, then `shardruntime upgrade` each node, one after the other).
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
die() { printf 'certs: %s\n' "$*" >&2; exit 2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DIR=$ROOT/deploy/cluster/certs
DAYS=397
OWNER=
NODES=()
while (($#)); do
  case "$1" in
    --dir) DIR=${2:?--dir needs a directory}; shift ;;
    --days) DAYS=${2:?--days needs a number}; shift ;;
    --owner) OWNER=${2:?--owner needs UID[:GID]}; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) NODES+=("$1") ;;
  esac
  shift
done
((${#NODES[@]})) || NODES=(seed node2 node3)
[[ $DAYS =~ ^[0-9]+$ ]] && ((DAYS > 0)) || die "--days takes a whole number of days, got '$DAYS'"
command -v openssl >/dev/null || die "openssl is not installed (apt-get install openssl)"

umask 077
mkdir -p "$DIR"
chmod 0700 "$DIR"

if [[ -f $DIR/ca.pem && -f $DIR/ca-key.pem ]]; then
  printf 'certs: using the CA in %s/ca.pem (%s)\n' "$DIR" "$(openssl x509 -in "$DIR/ca.pem" -noout -subject)"
elif [[ -f $DIR/ca.pem || -f $DIR/ca-key.pem ]]; then
  die "$DIR has only one of ca.pem and ca-key.pem: put both there, or neither to make a new CA"
else
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/CN=ShardRuntime cluster CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$DIR/ca-key.pem" -out "$DIR/ca.pem" 2>/dev/null
  printf 'certs: made a new CA %s/ca.pem\n' "$DIR"
fi

for spec in "${NODES[@]}"; do
  node=${spec%%=*}
  [[ $node =~ ^[A-Za-z0-9._-]+$ ]] || die "'$node' is not a node name (letters, digits, . _ -)"
  san="DNS:$node"
  if [[ $spec == *=* ]]; then
    IFS=, read -r -a extra <<<"${spec#*=}"
    for name in "${extra[@]}"; do
      if [[ $name =~ ^[0-9.]+$ || $name == *:* ]]; then san+=",IP:$name"; else san+=",DNS:$name"; fi
    done
  fi
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$node" \
    -keyout "$DIR/$node-key.pem" -out "$DIR/$node.csr" 2>/dev/null
  openssl x509 -req -in "$DIR/$node.csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca-key.pem" -CAcreateserial -days "$DAYS" \
    -extfile <(printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=%s\n' "$san") \
    -out "$DIR/$node.pem" 2>/dev/null
  rm -f "$DIR/$node.csr"
  openssl verify -CAfile "$DIR/ca.pem" "$DIR/$node.pem" >/dev/null || die "the certificate of $node does not verify against the CA"
  chmod 0600 "$DIR/$node-key.pem"
  chmod 0644 "$DIR/$node.pem"
  printf 'certs: %s/%s.pem (%s, valid %s days) and %s-key.pem\n' "$DIR" "$node" "$san" "$DAYS" "$node"
done
chmod 0644 "$DIR/ca.pem"
rm -f "$DIR/ca.srl"
if [[ -n $OWNER ]]; then
  chown "$OWNER" "$DIR" "$DIR"/*.pem || die "chown $OWNER failed (run as root)"
  chown "$(id -u):$(id -g)" "$DIR/ca-key.pem"
  printf 'certs: %s and its files belong to %s now (the CA key stays yours)\n' "$DIR" "$OWNER"
fi
