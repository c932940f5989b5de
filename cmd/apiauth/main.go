// Command apiauth checks API credentials: apiauth doctor tells, for one API
// family, whether the documented environment variables hold a usable
// credential, whether the server accepts it, and what to do when it does
// not.
//
// Usage:
//
//	apiauth doctor <family> [flags]
//
// where family is artos, artanis, voltasis or audimodal. It reads the
// family's documented environment variables:
//
//	artos      ARTOS_TOKEN (a bearer token), else ARTOS_USER_ID (exchanged
//	           at POST /get-access-token); checks GET /api/v1/search/status
//	           and, with the token, GET /api/v1/templates/
//	artanis    ARTANIS_API_KEY and ARTANIS_ORG_SLUG; checks
//	           GET /api/prompts?projectSlug=<--project>
//	voltasis   VOLTASIS_API_KEY; checks GET /v1/auth/me
//	audimodal  AUDIMODAL_API_KEY, else (or with --login) a login from
//	           AUDIMODAL_EMAIL, AUDIMODAL_PASSWORD and AUDIMODAL_TENANT_ID
//	           (POST /v1/auth/login); checks GET /v1/health
//
// It checks the credential's format (and, for AudiModal, its mode against
// --env), that the base URL is HTTPS, then calls the endpoint and prints who
// the credential is and which tenant or organization it acts on, the token's
// lifetime and expiry (for tokens), the clock skew against the server's Date
// header, the rate-limit headroom the server reports, and, on failure, the
// typed error (status, code) with the provider's documented remedy.
// Credentials are printed redacted, never in full.
//
// Flags:
//
//	--base-url URL   the API's base URL (default: the family's production URL)
//	--project SLUG   the Artanis project to read (required for artanis, except with --fake)
//	--env ENV        test or production: warn about an AudiModal key of the other mode
//	--login          audimodal: use the login variables even when AUDIMODAL_API_KEY is set
//	--json           print one JSON object on stdout instead of text
//	--fake           run offline against the built-in fake (package apiauthtest)
//	--timeout D      bound the whole check (default 20s)
//
// With --fake, every variable that is unset takes the fake's seeded value
// (its documented example credentials); a variable that is set is used as
// it is, so that VOLTASIS_API_KEY=wrong apiauth doctor voltasis --fake shows
// the failure path.
//
// A progress line ("checking voltasis GET /v1/auth/me …") goes to stderr
// while it waits on the network; the report goes to stdout. With --json,
// stdout holds exactly one JSON object whatever the outcome, except for a
// usage error (exit 2), which prints the usage on stderr only.
//
// Exit codes:
//
//	0  the credential works
//	2  usage error
//	3  credential missing or malformed, or a base URL that cannot carry it (not HTTPS)
//	4  refused by the server (401 or 403)
//	5  rate limited (429)
//	6  network or other failure (timeout, 404, 5xx, unexpected answer)
package main

import (
	"context"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr))
}

// Exit codes; keep in sync with the package documentation.
const (
	exitOK         = 0
	exitUsage      = 2
	exitCredential = 3
	exitRefused    = 4
	exitRateLimit  = 5
	exitOther      = 6
)

const usage = `usage: apiauth doctor <artos|artanis|voltasis|audimodal> [flags]

Checks the family's credential from its documented environment variables:
  artos      ARTOS_TOKEN, else ARTOS_USER_ID (POST /get-access-token);
             GET /api/v1/search/status, then GET /api/v1/templates/
  artanis    ARTANIS_API_KEY + ARTANIS_ORG_SLUG; GET /api/prompts?projectSlug=--project
  voltasis   VOLTASIS_API_KEY; GET /v1/auth/me
  audimodal  AUDIMODAL_API_KEY, else (or with --login) AUDIMODAL_EMAIL +
             AUDIMODAL_PASSWORD + AUDIMODAL_TENANT_ID (POST /v1/auth/login);
             GET /v1/health

Flags:
  --base-url URL   base URL (default: the family's production URL)
  --project SLUG   Artanis project to read (required for artanis unless --fake)
  --env ENV        test|production: warn about an AudiModal key of the other mode
  --login          audimodal: use the login even when AUDIMODAL_API_KEY is set
  --json           one JSON object on stdout
  --fake           offline, against the built-in fake; unset variables take
                   the fake's seeded credentials, set ones are used as they are
  --timeout D      bound of the whole check (default 20s)

Exit codes: 0 ok, 2 usage, 3 credential missing or malformed (or base URL
not HTTPS), 4 refused by the server (401/403), 5 rate limited (429),
6 network or other failure.
`

// run is the command: args without the program name. It returns the exit
// code.
func run(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	if args[0] != "doctor" {
		fmt.Fprintf(stderr, "apiauth: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
	cfg, code := parseDoctor(args[1:], stderr)
	if code >= 0 {
		return code
	}
	return doctor(ctx, cfg, lookup, stdout, stderr)
}
