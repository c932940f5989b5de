package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
)

// Example runs "apiauth doctor voltasis --fake --json" in-process, as a
// script would read it: the exit code, then fields of the one JSON object.
func Example() {
	noEnv := func(string) (string, bool) { return "", false }
	var out bytes.Buffer
	code := run(context.Background(), []string{"doctor", "voltasis", "--fake", "--json"}, noEnv, &out, io.Discard)

	var rep struct {
		OK         bool
		Credential struct{ Redacted string }
		Identity   struct {
			User, Email, Tenant string
			TenantName          string `json:"tenant_name"`
		}
		RateLimit struct{ Reported bool } `json:"rate_limit"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("exit code:", code, "ok:", rep.OK)
	fmt.Println("key:", rep.Credential.Redacted)
	fmt.Printf("who: %s <%s>\n", rep.Identity.User, rep.Identity.Email)
	fmt.Printf("organization: %s (%s)\n", rep.Identity.Tenant, rep.Identity.TenantName)
	fmt.Println("rate limit reported:", rep.RateLimit.Reported)
	// Output:
	// exit code: 0 ok: true
	// key: ***0001
	// who: usr_123456789 <your.email@example.com>
	// organization: org_123456789 (Your Organization)
	// rate limit reported: false
}
