#!/usr/bin/env bash
# Checks what CI can check of the test network without Fabric's peer and orderer:
#   1. network.sh passes shellcheck (when shellcheck is installed);
#   2. `network.sh generate` renders a configuration `netctl check` accepts, in both modes,
#      reproducibly (same chaincode package ID) and without touching anything on bad input;
#   3. `network.sh orgca` against a stand-in peer CLI: every organisation's admin sets its CA
#      certificates, and a client-only organisation's admin, whom the peers refuse the event
#      stream, is not made to wait for events but polls the ledger;
#   4. when fabric-ca-server is available (FABRIC_CA_SERVER, PATH, or the output of
#      .ci/build-fabric-ca) and the network's CA ports are free: `network.sh crypto` starts
#      the four real CAs, enrols every identity, and a second run keeps them.
# Usage: test-network/test/generate_test.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
net="$here/network.sh"
tmp="$(mktemp -d)"
failures=0

cleanup() {
	if [[ -d "$tmp/crypto" ]]; then
		BUILD_DIR="$tmp/crypto" "$net" down >/dev/null 2>&1 || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

pass() { printf 'ok   %s\n' "$*"; }
fail() {
	printf 'FAIL %s\n' "$*" >&2
	failures=$((failures + 1))
}
skip() { printf 'skip %s\n' "$*"; }

# --- 1. shellcheck
if command -v shellcheck >/dev/null; then
	if shellcheck "$net" "${BASH_SOURCE[0]}"; then
		pass "shellcheck"
	else
		fail "shellcheck"
	fi
else
	skip "shellcheck not installed (apt-get install shellcheck)"
fi

# --- 2. generate, both modes
for mode in native docker; do
	out="$tmp/$mode"
	if BUILD_DIR="$out" "$net" -m "$mode" generate >"$tmp/$mode.log" 2>&1 &&
		"$out/bin/netctl" check -dir "$out" -mode "$mode" >>"$tmp/$mode.log" 2>&1; then
		pass "generate ($mode) renders a configuration that checks"
	else
		fail "generate ($mode):"
		cat "$tmp/$mode.log" >&2
	fi
done

if [[ -f "$tmp/native/chaincode/package-id" && -f "$tmp/docker/chaincode/package-id" ]] &&
	cmp -s "$tmp/native/chaincode/package-id" "$tmp/docker/chaincode/package-id"; then
	pass "the chaincode package ID is reproducible ($(cat "$tmp/native/chaincode/package-id"))"
else
	fail "the chaincode package ID differs between two builds"
fi

if grep -q '"peers": \[\]' "$tmp/native/careledger-connection.json" &&
	grep -q '"endpoint": "127.0.0.1:7051"' "$tmp/native/careledger-connection.json"; then
	pass "connection file lists peers, and none for PharmaMSP"
else
	fail "connection file content"
fi

secret_before="$(cat "$tmp/native/ca/ca-patients/bootstrap-secret")"
BUILD_DIR="$tmp/native" "$net" generate >/dev/null 2>&1
if [[ "$(cat "$tmp/native/ca/ca-patients/bootstrap-secret")" == "$secret_before" ]]; then
	pass "regenerating keeps the CA bootstrap secrets"
else
	fail "regenerating changed a CA bootstrap secret"
fi

# Bad input: a clear message, a non-zero status, and no build directory.
if out="$(BUILD_DIR="$tmp/bad" "$net" -m kubernetes generate 2>&1)"; then
	fail "an unknown mode was accepted"
elif [[ "$out" == *"mode must be native or docker"* && ! -e "$tmp/bad" ]]; then
	pass "an unknown mode is refused and writes nothing"
else
	fail "unknown mode: unexpected output or files: $out"
fi
if BUILD_DIR="$tmp/bad" "$net" frobnicate >/dev/null 2>&1; then
	fail "an unknown command was accepted"
else
	pass "an unknown command is refused"
fi

# --- 3. orgca with a stand-in for the peer CLI. Fabric refuses PharmaMSP's admin the event
# stream (/Channel/Application/StreamReaders), so `peer chaincode invoke --waitForEvent` fails
# for it with FORBIDDEN although the transaction commits; the stand-in does the same, and
# commits a transaction sent without waiting only after the ledger has been read once.
stub="$tmp/stub"
mkdir -p "$stub/bin" "$stub/ledger"
cat >"$stub/bin/peer" <<'STUB'
#!/usr/bin/env bash
set -euo pipefail
ledger="${STUB_LEDGER:?}" msp="${CORE_PEER_LOCALMSPID:?}" wait=false
# Without --peerAddresses the CLI dials CORE_PEER_ADDRESS and checks the peer's TLS
# certificate against CORE_PEER_TLS_ROOTCERT_FILE: it must be the TLS CA of the organisation
# that runs the peer, whoever the CLI acts as.
case "${CORE_PEER_ADDRESS:?}" in
*:7051) peer_org=patients ;;
*) peer_org=clinic ;;
esac
if [[ " $* " != *" --peerAddresses "* &&
	"${CORE_PEER_TLS_ROOTCERT_FILE:?}" != */peerOrganizations/$peer_org.careledger.test/* ]]; then
	echo "Error: failed to connect to $CORE_PEER_ADDRESS: tls: bad certificate" >&2
	exit 1
fi
for a in "$@"; do
	[[ "$a" != --waitForEvent ]] || wait=true
done
case "$1 $2" in
"chaincode invoke")
	printf '%s wait=%s\n' "$msp" "$wait" >>"$ledger/invocations"
	txid="$(printf '%064x' "$(wc -l <"$ledger/invocations")")"
	if ! $wait; then
		printf '%s\n' "$txid" >"$ledger/$msp.pending"
	elif [[ "$msp" == PharmaMSP ]]; then
		printf '%s\n' "$txid" >"$ledger/$msp.pending"
		echo "Error: deliver completed with status (FORBIDDEN) before txid received" >&2
		exit 1
	else
		printf '%s\n' "$txid" >"$ledger/$msp"
	fi
	;;
"chaincode query")
	found=false
	if [[ -f "$ledger/$msp" ]]; then
		printf '{"msp":"%s","txId":"%s"}\n' "$msp" "$(cat "$ledger/$msp")"
		found=true
	fi
	[[ ! -f "$ledger/$msp.pending" ]] || mv "$ledger/$msp.pending" "$ledger/$msp"
	$found || {
		echo "Error: NOT_FOUND" >&2
		exit 1
	}
	;;
*) exit 0 ;;
esac
STUB
chmod +x "$stub/bin/peer"
for org in patients clinic pharma; do
	mkdir -p "$tmp/native/organizations/peerOrganizations/$org.careledger.test/msp/cacerts"
	printf -- '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' \
		>"$tmp/native/organizations/peerOrganizations/$org.careledger.test/msp/cacerts/ca.pem"
done
if STUB_LEDGER="$stub/ledger" FABRIC_BIN_DIR="$stub/bin" BUILD_DIR="$tmp/native" "$net" orgca >"$tmp/orgca.log" 2>&1 &&
	[[ "$(sort "$stub/ledger/invocations" | tr '\n' ' ')" == "ClinicMSP wait=true PatientsMSP wait=true PharmaMSP wait=false " ]] &&
	grep -q "CA certificates of PharmaMSP committed in transaction 0*3$" "$tmp/orgca.log"; then
	pass "orgca: each admin sets its CAs; PharmaMSP's, refused the event stream, polls the ledger"
else
	fail "orgca:"
	cat "$tmp/orgca.log" "$stub/ledger/invocations" >&2
fi

# --- 4. real CAs
ca_bin="${FABRIC_CA_SERVER:-$(command -v fabric-ca-server || true)}"
if [[ -z "$ca_bin" && -x "${XDG_CACHE_HOME:-$HOME/.cache}/careledger/bin/fabric-ca-server" ]]; then
	ca_bin="${XDG_CACHE_HOME:-$HOME/.cache}/careledger/bin/fabric-ca-server"
fi
busy=""
for port in 6054 7054 9054 11054 9450 9451 9452 9453; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		busy+=" $port"
	fi
done
if [[ -z "$ca_bin" ]]; then
	skip "crypto: fabric-ca-server not found (run .ci/build-fabric-ca)"
elif [[ -n "$busy" ]]; then
	skip "crypto: CA ports in use:$busy"
else
	out="$tmp/crypto"
	if FABRIC_CA_SERVER="$ca_bin" BUILD_DIR="$out" "$net" crypto >"$tmp/crypto.log" 2>&1; then
		pass "crypto enrols every identity with four real fabric-ca-servers"
		patient="$(find "$out/organizations/peerOrganizations/patients.careledger.test/users/patient1@patients.careledger.test/msp/signcerts" -name cert.pem)"
		before="$(cat "$patient")"
		if FABRIC_CA_SERVER="$ca_bin" BUILD_DIR="$out" "$net" crypto >>"$tmp/crypto.log" 2>&1 &&
			[[ "$(cat "$patient")" == "$before" ]]; then
			pass "a second crypto run keeps the identities"
		else
			fail "second crypto run:"
			tail -n 20 "$tmp/crypto.log" >&2
		fi
		if command -v openssl >/dev/null; then
			if openssl x509 -in "$patient" -noout -text | grep -q '"role":"patient"'; then
				pass "patient certificates carry role=patient as an ecert attribute"
			else
				fail "patient certificate lacks the role attribute"
			fi
		fi
	else
		fail "crypto:"
		tail -n 30 "$tmp/crypto.log" >&2
	fi
	BUILD_DIR="$out" "$net" down >/dev/null 2>&1 || fail "down"
	if compgen -G "$out/run/*.pid" >/dev/null; then
		fail "down left PID files behind"
	else
		pass "down stops the CAs"
	fi
fi

if ((failures > 0)); then
	printf '%d check(s) failed\n' "$failures" >&2
	exit 1
fi
printf 'all checks passed\n'
