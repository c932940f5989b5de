package apiauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

const (
	liveKey   = "sk_live_CANARYabcdef0123456789wxyz"
	tenantKey = "tk_tenant_123_CANARY0123456789abcd"
	opaqueKey = "CANARYopaque0123456789abcdefghij"
)

func TestParseAPIKeyModes(t *testing.T) {
	for _, tc := range []struct {
		key  string
		mode KeyMode
		ok   bool
	}{
		{liveKey, KeyLive, true},
		{"sk_test_1234567890abcdef", KeyTest, true},
		{tenantKey, KeyTenant, true},
		{opaqueKey, KeyOpaque, true},
		{"pk_live_123", KeyOpaque, true},
		{"sk_live_", KeyLive, false}, // a prefix alone is no key
		{"tk_", KeyTenant, false},
	} {
		k, err := ParseAPIKey(tc.key)
		if (err == nil) != tc.ok {
			t.Fatalf("ParseAPIKey(%q): err = %v, want accepted=%v", tc.key, err, tc.ok)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidCredential) || strings.Contains(err.Error(), tc.key) {
				t.Errorf("error %q: must match ErrInvalidCredential and not contain the key", err)
			}
			continue
		}
		if k.Mode() != tc.mode || k.Secret() != tc.key {
			t.Errorf("mode = %v, want %v (secret kept: %v)", k.Mode(), tc.mode, k.Secret() == tc.key)
		}
	}
}

func TestCredentialRejectsBadInput(t *testing.T) {
	secret := "CANARY0123456789"
	bad := map[string]string{
		"empty":     "",
		"space":     "sk_live_" + secret + " x",
		"tab":       secret + "\tx",
		"CR":        secret + "\rx",
		"LF":        secret + "\nX-Evil: 1",
		"NUL":       secret + "\x00",
		"DEL":       secret + "\x7f",
		"non-ASCII": secret + "é",
	}
	for name, v := range bad {
		checks := map[string]error{}
		_, checks["ParseAPIKey"] = ParseAPIKey(v)
		_, checks["NewStaticToken"] = NewStaticToken(v)
		_, checks["NewHeaderPair key"] = NewHeaderPair(v, "my-org")
		_, checks["NewHeaderPair slug"] = NewHeaderPair("artanis_CANARY_key", v)
		for fn, err := range checks {
			var ce *CredentialError
			if !errors.As(err, &ce) || !errors.Is(err, ErrInvalidCredential) {
				t.Errorf("%s(%s): err = %v, want *CredentialError", fn, name, err)
				continue
			}
			if v != "" && strings.Contains(err.Error(), "CANARY") {
				t.Errorf("%s(%s): error %q contains the secret", fn, name, err)
			}
			if !strings.HasPrefix(err.Error(), "apiauth: ") {
				t.Errorf("%s(%s): error %q does not start with apiauth:", fn, name, err)
			}
		}
	}
}

// printForms renders v every way a program might print or log it.
func printForms(t *testing.T, v any) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3v", "%T"} {
		out[verb] = fmt.Sprintf(verb, v)
	}
	out["Sprint"] = fmt.Sprint(v)
	out["Sprintln"] = fmt.Sprintln(v)
	out["nested %+v"] = fmt.Sprintf("%+v", struct{ Cred any }{v})
	out["nested %#v"] = fmt.Sprintf("%#v", []any{v})
	if s, ok := v.(fmt.Stringer); ok {
		out["String"] = s.String()
	}
	if s, ok := v.(fmt.GoStringer); ok {
		out["GoString"] = s.GoString()
	}
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	out["json"] = string(j)
	j, _ = json.Marshal(map[string]any{"nested": v})
	out["json nested"] = string(j)
	for name, h := range map[string]func(*bytes.Buffer) slog.Handler{
		"slog json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		"slog text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
	} {
		var buf bytes.Buffer
		slog.New(h(&buf)).Info("credential", "cred", v)
		out[name] = buf.String()
	}
	return out
}

func TestRedactionEveryForm(t *testing.T) {
	key, _ := ParseAPIKey(liveKey)
	tkey, _ := ParseAPIKey(tenantKey)
	okey, _ := ParseAPIKey(opaqueKey)
	static, _ := NewStaticToken("eyJhbGciOiJIUzI1NiJ9.CANARYpayload.signature0123456789")
	pair, _ := NewHeaderPair("artanis_CANARY_0123456789abcdef", "my-org")
	tok := &Token{AccessToken: "eyJhbGciOiJIUzI1NiJ9.CANARYpayload.sig0123456789", RefreshToken: "CANARYrefresh0123456789",
		Extra: map[string]any{"user": map[string]any{"id": "user_123"}, "id_token": "CANARYid"}}
	login := Login{Email: "user@company.com", Password: "CANARYpassword", TenantID: "tenant_123"}

	for _, tc := range []struct {
		name string
		v    any
		want string // a redacted form that must show up in %v
	}{
		{"APIKey", key, "sk_live_***wxyz"},
		{"*APIKey", &key, "sk_live_***wxyz"},
		{"tenant APIKey", tkey, "tk_***abcd"},
		{"opaque APIKey", okey, "***ghij"},
		{"StaticToken", static, "***6789"},
		{"HeaderPair", pair, "x-org-slug=my-org"},
		{"*Token", tok, "***6789"},
		{"Token", *tok, "***6789"},
		{"Login", login, "user@company.com"},
	} {
		forms := printForms(t, tc.v)
		for form, s := range forms {
			if strings.Contains(s, "CANARY") {
				t.Errorf("%s under %s leaks the secret: %s", tc.name, form, s)
			}
		}
		if !strings.Contains(forms["%v"], tc.want) {
			t.Errorf("%s %%v = %q, want it to show %q", tc.name, forms["%v"], tc.want)
		}
	}
}

func TestEnvHelpers(t *testing.T) {
	t.Setenv("AUDIMODAL_API_KEY", liveKey)
	k, err := APIKeyFromEnv("AUDIMODAL_API_KEY")
	if err != nil || k.Mode() != KeyLive {
		t.Fatalf("APIKeyFromEnv = %v, %v", k, err)
	}

	t.Setenv("ARTOS_TOKEN", "bad token CANARY")
	_, err = StaticTokenFromEnv("ARTOS_TOKEN")
	var ce *CredentialError
	if !errors.As(err, &ce) || ce.Unset || !strings.Contains(err.Error(), "ARTOS_TOKEN") || strings.Contains(err.Error(), "CANARY") {
		t.Errorf("invalid env token: err = %v", err)
	}

	_, err = HeaderPairFromEnv("APIAUTH_TEST_SURELY_UNSET", "org")
	if !errors.As(err, &ce) || !ce.Unset || !strings.Contains(err.Error(), "APIAUTH_TEST_SURELY_UNSET") || !strings.Contains(err.Error(), "not set") {
		t.Errorf("unset env: err = %v", err)
	}

	t.Setenv("VOLTASIS_API_KEY", "")
	if _, err := StaticTokenFromEnv("VOLTASIS_API_KEY"); !errors.As(err, &ce) || ce.Unset || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty env: err = %v", err)
	}
}

func TestCredentialsApply(t *testing.T) {
	ctx := context.Background()
	key, _ := ParseAPIKey(liveKey)
	static, _ := NewStaticToken("static-token-value")
	pair, _ := NewHeaderPair("artanis-key", "my-org")
	h := http.Header{}
	if _, err := key.Apply(ctx, h); err != nil || h.Get("Authorization") != "Bearer "+liveKey {
		t.Errorf("APIKey.Apply: %q, %v", h.Get("Authorization"), err)
	}
	h = http.Header{}
	if _, err := static.Apply(ctx, h); err != nil || h.Get("Authorization") != "Bearer static-token-value" {
		t.Errorf("StaticToken.Apply: %q, %v", h.Get("Authorization"), err)
	}
	h = http.Header{}
	if _, err := pair.Apply(ctx, h); err != nil || h.Get("x-api-key") != "artanis-key" || h.Get("x-org-slug") != "my-org" {
		t.Errorf("HeaderPair.Apply: %v, %v", h, err)
	}
	// A downstream append must not write into the shared header value.
	h.Add("X-Api-Key", "other")
	h2 := http.Header{}
	_, _ = pair.Apply(ctx, h2)
	if got := h2.Values("X-Api-Key"); len(got) != 1 || got[0] != "artanis-key" {
		t.Errorf("shared header value was modified: %q", got)
	}
	var zero APIKey
	if _, err := zero.Apply(ctx, http.Header{}); !errors.Is(err, ErrInvalidCredential) {
		t.Errorf("zero APIKey.Apply: err = %v", err)
	}
}

func TestKeyModeString(t *testing.T) {
	for m, want := range map[KeyMode]string{KeyOpaque: "opaque", KeyLive: "live", KeyTest: "test", KeyTenant: "tenant", KeyMode(9): "KeyMode(9)"} {
		if m.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(m), m.String(), want)
		}
	}
}
