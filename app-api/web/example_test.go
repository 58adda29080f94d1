package web_test

import (
	"log"
	"net/http"

	"github.com/careledger/careledger/app-api/web"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/careledger/careledger/wallet"
)

// ExampleNew mounts the web interface at "/" next to the JSON API, as `careledger up` does.
// The server must be served over TLS: the session cookie is Secure.
func ExampleNew() {
	var (
		w       *wallet.Wallet     // wallet.Open(dir)
		conn    *ledger.Conn       // ledger.Dial(endpoint, "careledger", "careledger", ledger.Timeouts{})
		service *gateway.Service   // gateway.New(...)
		api     http.Handler       // the JSON API, which owns /v1, /healthz, /readyz, /metrics
		orgs    map[string]web.Org // display names, CA certificates and gateway identities
	)
	ui, err := web.New(web.Config{Wallet: w, Conn: conn, Service: service, Orgs: orgs})
	if err != nil {
		log.Print(err) // without a wallet, a connection and a service there is no interface
		return
	}
	mux := http.NewServeMux()
	for _, p := range []string{"/v1/", "/healthz", "/readyz", "/metrics", "/openapi.yaml"} {
		mux.Handle(p, api)
	}
	mux.Handle("/", ui)
	_ = mux // serve with http.Server{Handler: mux, TLSConfig: ...}.ListenAndServeTLS
}
