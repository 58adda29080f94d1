#!/usr/bin/env bash
# CareLedger test network: a real multi-organisation Hyperledger Fabric network running the
# CareLedger chaincode as a service, in the manner of fabric-samples' test-network and
# test-network-nano-bash. See test-network/README.md.
#
# Usage: test-network/network.sh [-m native|docker] COMMAND
#   prereq    check that everything the mode needs is installed; downloads nothing
#   generate  render all configuration into the build directory (needs only Go)
#   crypto    generate, start the organisation CAs and enrol every identity (needs only
#             fabric-ca-server, or Docker); writes the connection file with identities
#   up        start the CAs, enrol every identity, start 3 Raft orderers and 3 peers, create
#             channel "careledger" with osnadmin and join the peers
#   deploy    build and start the chaincode servers, install/approve/commit the CCAAS
#             package (endorsement: both peer organisations), set the role policy and
#             each organisation's CA certificates (each by its own admin), and wait until
#             every peer's gateway can gather both organisations' endorsements
#   orgca     set each organisation's CA certificates again, each as its own admin (a
#             step of deploy; run it alone after a CA has rolled over)
#   down      stop every node and delete the ledgers; identities and CAs are kept
#   clean     down, then delete the build directory
#
# Environment:
#   NETWORK_MODE          native (default) or docker; -m overrides it
#   BUILD_DIR             build directory (default: test-network/build)
#   FABRIC_BIN_DIR        folder with peer, orderer, osnadmin, configtxgen (default: PATH)
#   FABRIC_CCAAS_BUILDER  folder with Fabric's ccaas builder (bin/detect, bin/build,
#                         bin/release); default: FABRIC_BIN_DIR/../builders/ccaas
#   FABRIC_CA_SERVER      fabric-ca-server binary (default: PATH, then
#                         ~/.cache/careledger/bin/fabric-ca-server from .ci/build-fabric-ca)
#   FABRIC_VERSION, FABRIC_CA_VERSION, FABRIC_DOCKER_REGISTRY   images in docker mode
#   CC_SEQUENCE           chaincode definition sequence (default: next after the committed one)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
mode="${NETWORK_MODE:-native}"
build="${BUILD_DIR:-$here/build}"
cache_bin="${XDG_CACHE_HOME:-$HOME/.cache}/careledger/bin"

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	printf 'network.sh: %s\n' "$*" >&2
	exit 1
}

usage() {
	sed -n '6,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

# ---------------------------------------------------------------------------------------
# Tools

# fabric_bin NAME prints the path of a Fabric binary, or nothing.
fabric_bin() {
	if [[ -n "${FABRIC_BIN_DIR:-}" ]]; then
		[[ -x "$FABRIC_BIN_DIR/$1" ]] && printf '%s\n' "$FABRIC_BIN_DIR/$1"
		return 0
	fi
	command -v "$1" || true
}

ca_server_bin() {
	if [[ -n "${FABRIC_CA_SERVER:-}" ]]; then
		[[ -x "$FABRIC_CA_SERVER" ]] && printf '%s\n' "$FABRIC_CA_SERVER"
		return 0
	fi
	command -v fabric-ca-server && return 0
	[[ -x "$cache_bin/fabric-ca-server" ]] && printf '%s\n' "$cache_bin/fabric-ca-server"
	return 0
}

ccaas_builder_dir() {
	if [[ -n "${FABRIC_CCAAS_BUILDER:-}" ]]; then
		printf '%s\n' "$FABRIC_CCAAS_BUILDER"
		return
	fi
	local peer
	peer="$(fabric_bin peer)"
	if [[ -n "$peer" ]]; then
		printf '%s\n' "$(cd "$(dirname "$peer")/.." && pwd)/builders/ccaas"
	fi
}

compose() {
	local files=() f
	for f in compose/compose-ca.yaml compose/compose-net.yaml compose/compose-chaincode.yaml; do
		files+=(-f "$build/$f")
	done
	CL_BUILD_DIR="$build" CL_UID="$(id -u)" CL_GID="$(id -g)" docker compose "${files[@]}" "$@"
}

# netctl runs the Go half of the network (test-network/cmd/netctl), built once per call.
netctl_bin=""
netctl() {
	if [[ -z "$netctl_bin" ]]; then
		mkdir -p "$build/bin"
		(cd "$repo" && go build -o "$build/bin/netctl" ./test-network/cmd/netctl) ||
			die "cannot build netctl (needs Go, see go.mod)"
		netctl_bin="$build/bin/netctl"
	fi
	"$netctl_bin" "$@"
}

# ---------------------------------------------------------------------------------------
# Topology, read from netctl so names and ports are defined once (internal/topology).

declare -A var=()
cas=() orderers=() peers=() ccservers=() orgs=() ports=()

load_topology() {
	((${#cas[@]} == 0)) || return 0
	local kind a b c d e
	while read -r kind a b c d e; do
		case "$kind" in
		var) var[$a]="$b" ;;
		ca) cas+=("$a $b $c $d") ;;
		orderer) orderers+=("$a $b $c $d") ;;
		peer) peers+=("$a $b $c $d $e") ;;
		ccaas) ccservers+=("$a $b $c $d") ;;
		org) orgs+=("$a $b $c") ;;
		# read leaves the rest of the line in the last variable: every port is in there.
		ports) read -r -a ports <<<"$a $b $c $d $e" ;;
		esac
	done < <(netctl nodes)
}

org_dir() { printf '%s/organizations/peerOrganizations/%s\n' "$build" "$1"; }
orderer_org_dir() { printf '%s/organizations/ordererOrganizations/%s\n' "$build" "${var[ORDERER_DOMAIN]}"; }
orderer_tls_ca() { printf '%s/msp/tlscacerts/ca.pem\n' "$(orderer_org_dir)"; }

# domain_of MSPID prints the organisation's domain.
domain_of() {
	local o mspid name domain
	for o in "${orgs[@]}"; do
		read -r mspid name domain <<<"$o"
		if [[ "$mspid" == "$1" ]]; then
			printf '%s\n' "$domain"
			return
		fi
	done
	die "unknown organisation $1"
}

# first_peer MSPID prints "host port" of the organisation's first peer.
first_peer() {
	local p host port mspid
	for p in "${peers[@]}"; do
		read -r host port mspid _ <<<"$p"
		if [[ "$mspid" == "$1" ]]; then
			printf '%s %s\n' "$host" "$port"
			return
		fi
	done
}

peer_orgs() {
	local p mspid seen=" "
	for p in "${peers[@]}"; do
		read -r _ _ mspid _ <<<"$p"
		if [[ "$seen" != *" $mspid "* ]]; then
			seen+="$mspid "
			printf '%s\n' "$mspid"
		fi
	done
}

# peer_mspid HOST prints the MSP ID of the organisation that runs the peer.
peer_mspid() {
	local p host mspid
	for p in "${peers[@]}"; do
		read -r host _ mspid _ <<<"$p"
		if [[ "$host" == "$1" ]]; then
			printf '%s
' "$mspid"
			return
		fi
	done
	die "unknown peer $1"
}

# as_admin MSPID PEER_HOST PEER_PORT: point the peer CLI at a peer as the org's admin. The
# peer may be another organisation's (a client-only organisation has none of its own): its TLS
# certificate is checked against its own organisation's TLS CA.
as_admin() {
	local domain
	domain="$(domain_of "$1")"
	# The CLI's own core.yaml: host paths in both modes (node configs hold container paths
	# in docker mode).
	export FABRIC_CFG_PATH="$build/cli"
	export CORE_PEER_LOCALMSPID="$1"
	export CORE_PEER_MSPCONFIGPATH
	CORE_PEER_MSPCONFIGPATH="$(org_dir "$domain")/users/Admin@$domain/msp"
	export CORE_PEER_ADDRESS="127.0.0.1:$3"
	export CORE_PEER_TLS_ENABLED=true
	# The CLI logs every gRPC state change at INFO; errors still show.
	export FABRIC_LOGGING_SPEC="${CLI_LOGGING_SPEC:-warning:grpc=error}"
	export CORE_PEER_TLS_ROOTCERT_FILE
	CORE_PEER_TLS_ROOTCERT_FILE="$(org_dir "$(domain_of "$(peer_mspid "$2")")")/msp/tlscacerts/ca.pem"
}

# ---------------------------------------------------------------------------------------
# Native processes: started in the background, their PIDs in $build/run, logs in $build/logs.

start_proc() {
	local name="$1"
	shift
	mkdir -p "$build/run" "$build/logs"
	if proc_alive "$name"; then
		log "$name already running"
		return
	fi
	log "starting $name"
	"$@" >"$build/logs/$name.log" 2>&1 &
	# The PID and the program: a PID the system reused for something else is never killed.
	printf '%s %s\n' "$!" "$1" >"$build/run/$name.pid"
}

# proc_alive NAME: the process network.sh started as NAME is still running.
proc_alive() {
	local pidfile="$build/run/$1.pid" pid prog args
	[[ -f "$pidfile" ]] || return 1
	read -r pid prog <"$pidfile"
	args="$(ps -p "$pid" -o args= 2>/dev/null)" || return 1
	[[ "$args" == "$prog"* ]]
}

stop_procs() {
	local pidfile pid name i
	shopt -s nullglob
	for pidfile in "$build"/run/*.pid; do
		name="$(basename "$pidfile" .pid)"
		if proc_alive "$name"; then
			read -r pid _ <"$pidfile"
			log "stopping $name (pid $pid)"
			kill "$pid" 2>/dev/null || true
			for ((i = 0; i < 20; i++)); do
				proc_alive "$name" || break
				sleep 0.5
			done
		fi
		rm -f "$pidfile"
	done
	shopt -u nullglob
}

# wait_port PORT WHAT: wait until something accepts TCP connections on 127.0.0.1:PORT.
wait_port() {
	local i
	for ((i = 0; i < 120; i++)); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			return 0
		fi
		sleep 0.5
	done
	die "$2 did not open port $1 within 60 s; see $build/logs/ or 'docker compose logs'"
}

# ---------------------------------------------------------------------------------------
# Commands

prereq() {
	local missing=() bins=() b dir
	command -v go >/dev/null || missing+=("go: Go 1.26 (https://go.dev/dl/), builds netctl and the chaincode")
	# The admin CLIs run on the host in both modes; the orderer binary only natively.
	for b in peer configtxgen osnadmin; do
		[[ -n "$(fabric_bin "$b")" ]] || bins+=("$b")
	done
	if [[ "$mode" == native && -z "$(fabric_bin orderer)" ]]; then
		bins+=(orderer)
	fi
	if ((${#bins[@]} > 0)); then
		missing+=("${bins[*]}: Fabric ${FABRIC_VERSION:-3.1.5} binaries${FABRIC_BIN_DIR:+ (not in FABRIC_BIN_DIR=$FABRIC_BIN_DIR)}; get them with Fabric's install script: curl -sSLO https://raw.githubusercontent.com/hyperledger/fabric/main/scripts/install-fabric.sh && bash install-fabric.sh --fabric-version ${FABRIC_VERSION:-3.1.5} binary; then export FABRIC_BIN_DIR=\$PWD/bin")
	fi
	if [[ "$mode" == native ]]; then
		dir="$(ccaas_builder_dir)"
		for b in detect build release; do
			if [[ -z "$dir" || ! -x "$dir/bin/$b" ]]; then
				missing+=("Fabric's ccaas builder (${dir:-FABRIC_BIN_DIR/../builders/ccaas}/bin/$b): install-fabric.sh binary unpacks it next to bin/ as builders/ccaas; or set FABRIC_CCAAS_BUILDER")
				break
			fi
		done
		[[ -n "$(ca_server_bin)" ]] ||
			missing+=("fabric-ca-server: run .ci/build-fabric-ca (builds v1.5.15 into $cache_bin), 'install-fabric.sh binary', or set FABRIC_CA_SERVER")
	else
		if ! command -v docker >/dev/null; then
			missing+=("docker: Docker Engine with the compose plugin (https://docs.docker.com/engine/install/)")
		elif ! docker info >/dev/null 2>&1; then
			missing+=("docker daemon: not reachable; start it or check permissions on its socket")
		else
			docker compose version >/dev/null 2>&1 ||
				missing+=("docker compose: the Compose v2 plugin (https://docs.docker.com/compose/install/)")
			local reg="${FABRIC_DOCKER_REGISTRY:-docker.io/hyperledger}" img
			for img in "fabric-peer:${FABRIC_VERSION:-3.1.5}" "fabric-orderer:${FABRIC_VERSION:-3.1.5}" "fabric-ca:${FABRIC_CA_VERSION:-1.5.15}"; do
				docker image inspect "$reg/$img" >/dev/null 2>&1 ||
					missing+=("image $reg/$img: 'bash install-fabric.sh docker' or 'docker pull $reg/$img' (set FABRIC_VERSION/FABRIC_CA_VERSION for other tags)")
			done
		fi
	fi
	if ((${#missing[@]} > 0)); then
		printf 'network.sh: missing prerequisites for %s mode:\n' "$mode" >&2
		printf '  - %s\n' "${missing[@]}" >&2
		printf 'Nothing was downloaded; install the above and re-run.\n' >&2
		return 1
	fi
	log "prerequisites for $mode mode are present"
}

generate() {
	local builder
	builder="$(ccaas_builder_dir)"
	netctl generate -dir "$build" -mode "$mode" ${builder:+-ccaas-builder "$builder"}
}

check_ports_free() {
	local p busy=()
	for p in "${ports[@]}"; do
		if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			busy+=("$p")
		fi
	done
	((${#busy[@]} == 0)) || die "ports already in use on 127.0.0.1: ${busy[*]} (another network up? try 'network.sh down')"
}

start_cas() {
	local c name host port
	if [[ "$mode" == docker ]]; then
		local services=()
		for c in "${cas[@]}"; do
			read -r _ host _ _ <<<"$c"
			services+=("$host")
		done
		compose up -d "${services[@]}"
	else
		local bin
		bin="$(ca_server_bin)"
		for c in "${cas[@]}"; do
			read -r name _ _ _ <<<"$c"
			start_proc "$name" "$bin" start -H "$build/ca/$name"
		done
	fi
	for c in "${cas[@]}"; do
		read -r name _ port _ <<<"$c"
		wait_port "$port" "$name"
	done
}

# shellcheck disable=SC2030,SC2031 # the exports are meant to stay in their subshells
start_nodes() {
	local n host port
	if [[ "$mode" == docker ]]; then
		local services=() var_name
		for n in "${orderers[@]}"; do
			read -r host _ <<<"$n"
			services+=("$host")
		done
		for n in "${peers[@]}"; do
			read -r host _ _ _ var_name <<<"$n"
			services+=("$host")
			# The peer's ccaas builder configuration holds its TLS key: passed from the file
			# through the environment, never written into the Compose files.
			export "$var_name=$(cat "$build/nodes/$host/ccaas-builder.json")"
		done
		compose up -d "${services[@]}"
	else
		local orderer_bin peer_bin
		orderer_bin="$(fabric_bin orderer)"
		peer_bin="$(fabric_bin peer)"
		# Environment is set in subshells, not on command lines, where ps would show it.
		for n in "${orderers[@]}"; do
			read -r host _ <<<"$n"
			mkdir -p "$build/data/$host"
			(
				export FABRIC_CFG_PATH="$build/nodes/$host"
				start_proc "$host" "$orderer_bin"
			)
		done
		for n in "${peers[@]}"; do
			read -r host _ <<<"$n"
			mkdir -p "$build/data/$host"
			(
				export FABRIC_CFG_PATH="$build/nodes/$host"
				CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG="$(cat "$build/nodes/$host/ccaas-builder.json")"
				export CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG
				start_proc "$host" "$peer_bin" node start
			)
		done
	fi
	for n in "${orderers[@]}" "${peers[@]}"; do
		read -r host port _ <<<"$n"
		wait_port "$port" "$host"
	done
}

create_channel() {
	local block="$build/channel-artifacts/${var[CHANNEL]}.block" n host admin_port
	mkdir -p "$build/channel-artifacts"
	log "creating the genesis block of channel ${var[CHANNEL]}"
	FABRIC_LOGGING_SPEC="${CLI_LOGGING_SPEC:-warning:grpc=error}" "$(fabric_bin configtxgen)" -configPath "$build/configtx" -profile "${var[PROFILE]}" \
		-channelID "${var[CHANNEL]}" -outputBlock "$block"
	for n in "${orderers[@]}"; do
		read -r host _ admin_port _ <<<"$n"
		wait_port "$admin_port" "$host admin"
		local tls
		tls="$(orderer_org_dir)/orderers/$host/tls"
		log "joining $host to ${var[CHANNEL]} (osnadmin)"
		local i
		# A published container port is open before the orderer behind it is.
		for ((i = 0; i < 15; i++)); do
			if "$(fabric_bin osnadmin)" channel join --channelID "${var[CHANNEL]}" --config-block "$block" \
				-o "127.0.0.1:$admin_port" --ca-file "$tls/ca.crt" \
				--client-cert "$tls/server.crt" --client-key "$tls/server.key"; then
				break
			fi
			((i < 14)) || die "$host could not join ${var[CHANNEL]}"
			sleep 2
		done
	done
	local p port mspid
	for p in "${peers[@]}"; do
		read -r host port mspid _ <<<"$p"
		as_admin "$mspid" "$host" "$port"
		log "joining $host to ${var[CHANNEL]}"
		local i
		# A peer needs a moment after opening its port before it accepts joins.
		for ((i = 0; i < 10; i++)); do
			if "$(fabric_bin peer)" channel join -b "$block"; then
				break
			fi
			((i < 9)) || die "$host could not join ${var[CHANNEL]}"
			sleep 2
		done
	done
}

# crypto starts the CAs and enrols every identity; it needs only fabric-ca-server (or Docker).
crypto() {
	load_topology
	if [[ "$mode" == native ]]; then
		[[ -n "$(ca_server_bin)" ]] ||
			die "fabric-ca-server not found: run .ci/build-fabric-ca, 'install-fabric.sh binary', or set FABRIC_CA_SERVER"
	fi
	generate
	start_cas
	log "enrolling identities with the organisation CAs"
	local builder
	builder="$(ccaas_builder_dir)"
	netctl enroll -dir "$build" -mode "$mode" ${builder:+-ccaas-builder "$builder"}
	netctl check -dir "$build" -mode "$mode"
}

up() {
	prereq
	load_topology
	check_ports_free
	crypto
	start_nodes
	create_channel
	log "network is up; next: network.sh${mode:+ -m $mode} deploy"
}

build_chaincode() {
	log "building the chaincode server (go build ./chaincode)"
	mkdir -p "$build/bin"
	if [[ "$mode" == docker ]]; then
		# Static, so it runs in any Linux container.
		(cd "$repo/chaincode" && CGO_ENABLED=0 GOOS=linux go build -trimpath -o "$build/bin/chaincode" .)
	else
		(cd "$repo/chaincode" && go build -trimpath -o "$build/bin/chaincode" .)
	fi
}

start_ccservers() {
	local pkgid="$1" s host port mspid tls
	if [[ "$mode" == docker ]]; then
		local services=()
		for s in "${ccservers[@]}"; do
			read -r host _ <<<"$s"
			services+=("$host")
		done
		CHAINCODE_ID="$pkgid" compose up -d "${services[@]}"
	else
		for s in "${ccservers[@]}"; do
			read -r host port mspid _ <<<"$s"
			tls="$(org_dir "$(domain_of "$mspid")")/ccaas/tls"
			(
				export CHAINCODE_SERVER_ADDRESS="127.0.0.1:$port" CHAINCODE_ID="$pkgid"
				export CHAINCODE_TLS_CERT="$tls/server.crt" CHAINCODE_TLS_KEY="$tls/server.key"
				export CHAINCODE_CLIENT_CA_CERT="$tls/ca.crt"
				start_proc "$host" "$build/bin/chaincode"
			)
		done
	fi
	for s in "${ccservers[@]}"; do
		read -r host port _ <<<"$s"
		wait_port "$port" "$host"
	done
}

# endorsing_peers prints --peerAddresses/--tlsRootCertFiles for one peer of each peer org.
endorsing_peers() {
	local mspid host port
	while read -r mspid; do
		read -r host port <<<"$(first_peer "$mspid")"
		printf '%s\n' --peerAddresses "127.0.0.1:$port" \
			--tlsRootCertFiles "$(org_dir "$(domain_of "$mspid")")/msp/tlscacerts/ca.pem"
	done < <(peer_orgs)
}

deploy() {
	load_topology
	local peer_bin pkg pkgid
	peer_bin="$(fabric_bin peer)"
	[[ -n "$peer_bin" ]] || die "peer not found; run network.sh prereq"
	pkg="$build/chaincode/careledger.tar.gz"
	[[ -f "$pkg" && -f "$build/chaincode/package-id" ]] || die "no chaincode package; run network.sh up first"
	pkgid="$(cat "$build/chaincode/package-id")"
	build_chaincode
	start_ccservers "$pkgid"

	local p host port mspid orderer_port orderer
	read -r _ orderer_port _ <<<"${orderers[0]}"
	orderer=(-o "127.0.0.1:$orderer_port" --tls --cafile "$(orderer_tls_ca)")
	for p in "${peers[@]}"; do
		read -r host port mspid _ <<<"$p"
		as_admin "$mspid" "$host" "$port"
		if "$peer_bin" lifecycle chaincode queryinstalled 2>/dev/null | grep -qF "Package ID: $pkgid,"; then
			log "$pkgid already installed on $host"
		else
			log "installing $pkgid on $host"
			"$peer_bin" lifecycle chaincode install "$pkg"
		fi
	done

	local seq="${CC_SEQUENCE:-}" committed
	read -r host port <<<"$(first_peer "${var[OPERATOR_MSPID]}")"
	as_admin "${var[OPERATOR_MSPID]}" "$host" "$port"
	if [[ -z "$seq" ]]; then
		committed="$("$peer_bin" lifecycle chaincode querycommitted -C "${var[CHANNEL]}" -n "${var[CHAINCODE]}" 2>/dev/null |
			sed -n 's/.*Sequence: \([0-9][0-9]*\).*/\1/p' | head -n1)" || committed="" # none committed yet
		seq=$((${committed:-0} + 1))
	fi
	local def=(-C "${var[CHANNEL]}" -n "${var[CHAINCODE]}" -v "${var[CC_VERSION]}" --sequence "$seq"
		--signature-policy "${var[CC_POLICY]}")
	while read -r mspid; do
		read -r host port <<<"$(first_peer "$mspid")"
		as_admin "$mspid" "$host" "$port"
		log "approving ${var[CHAINCODE]} sequence $seq for $mspid"
		"$peer_bin" lifecycle chaincode approveformyorg "${orderer[@]}" "${def[@]}" --package-id "$pkgid"
	done < <(peer_orgs)

	"$peer_bin" lifecycle chaincode checkcommitreadiness "${def[@]}" --output json
	local endorsers=()
	mapfile -t endorsers < <(endorsing_peers)
	log "committing ${var[CHAINCODE]} sequence $seq (endorsement policy ${var[CC_POLICY]})"
	"$peer_bin" lifecycle chaincode commit "${orderer[@]}" "${def[@]}" "${endorsers[@]}"
	"$peer_bin" lifecycle chaincode querycommitted -C "${var[CHANNEL]}" -n "${var[CHAINCODE]}"

	# The role policy, signed by the operator's administrator right after the commit: until
	# it is set, every organisation's CA could issue every role.
	local operator="${var[OPERATOR_MSPID]}" policy
	read -r host port <<<"$(first_peer "$operator")"
	as_admin "$operator" "$host" "$port"
	policy="$(tr -d '\n' <"$build/chaincode/role-policy.json")"
	policy="${policy//\\/\\\\}"
	policy="${policy//\"/\\\"}"
	log "setting the role policy as $operator admin"
	local i
	# The chaincode servers may take a moment to accept the peers' first connection.
	for ((i = 0; i < 10; i++)); do
		if "$peer_bin" chaincode invoke "${orderer[@]}" -C "${var[CHANNEL]}" -n "${var[CHAINCODE]}" \
			"${endorsers[@]}" --waitForEvent \
			-c "{\"function\":\"SetRolePolicy\",\"Args\":[\"$policy\"]}"; then
			break
		fi
		((i < 9)) || die "SetRolePolicy failed; see $build/logs/"
		sleep 3
	done
	"$peer_bin" chaincode query -C "${var[CHANNEL]}" -n "${var[CHAINCODE]}" -c '{"function":"GetRolePolicy","Args":[]}'

	orgca
	# Gossip introduces the organisations' peers to each other through the anchor peers some
	# time after they join (Fabric retries every 25 s); until then a gateway cannot plan an
	# endorsement by both organisations and refuses every transaction (FailedPrecondition).
	log "waiting until every peer's gateway can gather the endorsements the policy needs"
	netctl ready -dir "$build"
	log "deployed; connection file: $build/careledger-connection.json"
}

# ledger_txid_of_org_ca prints the ID of the transaction that last set the CA certificates of
# the organisation the CLI acts for (as_admin), or nothing when none are set.
ledger_txid_of_org_ca() {
	"$(fabric_bin peer)" chaincode query -C "${var[CHANNEL]}" -n "${var[CHAINCODE]}" \
		-c '{"function":"GetOrgCACertificates","Args":[""]}' 2>/dev/null |
		sed -n 's/.*"txId":"\([0-9a-f]*\)".*/\1/p' || true
}

# orgca puts each organisation's CA certificates on the ledger, each signed by its own
# administrator: until they are there no gateway may act for the organisation's members.
orgca() {
	load_topology
	local peer_bin operator="${var[OPERATOR_MSPID]}" o mspid host port call before after i
	local orderer_port orderer endorsers=()
	peer_bin="$(fabric_bin peer)"
	[[ -n "$peer_bin" ]] || die "peer not found; run network.sh prereq"
	read -r _ orderer_port _ <<<"${orderers[0]}"
	orderer=(-o "127.0.0.1:$orderer_port" --tls --cafile "$(orderer_tls_ca)")
	mapfile -t endorsers < <(endorsing_peers)
	for o in "${orgs[@]}"; do
		read -r mspid _ <<<"$o"
		read -r host port <<<"$(first_peer "$mspid")"
		call="$(netctl orgca -dir "$build" -org "$mspid")"
		if [[ -n "$host" ]]; then
			as_admin "$mspid" "$host" "$port"
			log "setting the CA certificates of $mspid as its admin"
			"$peer_bin" chaincode invoke "${orderer[@]}" -C "${var[CHANNEL]}" -n "${var[CHAINCODE]}" \
				"${endorsers[@]}" --waitForEvent -c "$call" || die "SetOrgCACertificates for $mspid failed"
			continue
		fi
		# A client-only organisation sends through the operator's peer. Its admin is not in
		# StreamReaders, so the peer refuses it the event stream --waitForEvent needs
		# (FORBIDDEN): submit without waiting, then read the ledger until the transaction shows.
		read -r host port <<<"$(first_peer "$operator")"
		as_admin "$mspid" "$host" "$port"
		before="$(ledger_txid_of_org_ca)"
		log "setting the CA certificates of $mspid as its admin (no event stream: polling the ledger)"
		"$peer_bin" chaincode invoke "${orderer[@]}" -C "${var[CHANNEL]}" -n "${var[CHAINCODE]}" \
			"${endorsers[@]}" -c "$call" || die "SetOrgCACertificates for $mspid failed"
		for ((i = 0; ; i++)); do
			after="$(ledger_txid_of_org_ca)"
			[[ -z "$after" || "$after" == "$before" ]] || break
			if ((i >= 60)); then
				# Once more with its errors showing: a query that cannot reach the peer looks
				# like a transaction that never committed.
				"$peer_bin" chaincode query -C "${var[CHANNEL]}" -n "${var[CHAINCODE]}" \
					-c '{"function":"GetOrgCACertificates","Args":[""]}' || true
				die "SetOrgCACertificates for $mspid was not committed within 120 s; see $build/logs/"
			fi
			sleep 2
		done
		log "CA certificates of $mspid committed in transaction $after"
	done
}

down() {
	if [[ "$mode" == docker ]]; then
		if [[ -f "$build/compose/compose-net.yaml" ]] && command -v docker >/dev/null; then
			compose down --volumes --remove-orphans
		fi
	fi
	stop_procs
	# Ledgers go; identities and CA databases stay, so 'up' builds a fresh channel with the
	# same members and the connection file stays valid.
	rm -rf "$build/data" "$build/channel-artifacts"
	log "network is down"
}

clean() {
	down
	case "$build" in
	"" | / | "$HOME" | "$repo") die "refusing to delete BUILD_DIR=$build" ;;
	esac
	rm -rf "$build"
	log "removed $build"
}

main() {
	while getopts "m:h" opt; do
		case "$opt" in
		m) mode="$OPTARG" ;;
		h)
			usage
			exit 0
			;;
		*)
			usage >&2
			exit 2
			;;
		esac
	done
	shift $((OPTIND - 1))
	case "$mode" in
	native | docker) ;;
	*) die "mode must be native or docker, not '$mode'" ;;
	esac
	local cmd="${1:-}"
	case "$cmd" in
	prereq | generate | crypto | up | deploy | orgca | down | clean) ;;
	*)
		usage >&2
		exit 2
		;;
	esac
	mkdir -p "$build"
	build="$(cd "$build" && pwd)"
	"$cmd"
}

main "$@"
