package apiauth_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apiauth/apiauth"
	"github.com/apiauth/apiauth/apiauthtest"
	"github.com/apiauth/apiauth/artanis"
	"github.com/apiauth/apiauth/artos"
	"github.com/apiauth/apiauth/audimodal"
	"github.com/apiauth/apiauth/transport"
	"github.com/apiauth/apiauth/voltasis"
)

// The end-to-end tests drive the typed family wrappers through the public
// API only, against the fake over TLS. The lifecycles that need time to
// pass (token expiry, refresh rotation, rate-limit windows) are in
// e2e_lifecycle_test.go, on synctest's virtual clock.

func TestE2EArtos(t *testing.T) {
	ctx := context.Background()
	srv := startFake(t, apiauthtest.Config{})

	t.Run("public search status needs no credential", func(t *testing.T) {
		artosAPI := artos.Client{Client: fakeClient(t, srv, apiauthtest.Artos, nil, nil)}
		st, err := artosAPI.SearchStatus(ctx)
		if err != nil || st.Status != "ok" {
			t.Fatalf("SearchStatus = %+v, %v", st, err)
		}
	})

	t.Run("access token, then documents and templates of the organization", func(t *testing.T) {
		artosAPI := artos.Client{Client: fakeClient(t, srv, apiauthtest.Artos, nil, nil)}
		before := time.Now()
		tok, err := artosAPI.GetAccessToken(ctx, apiauthtest.ArtosUserID)
		if err != nil {
			t.Fatal(err)
		}
		// Artos sends no expires_in: the expiry is the JWT's exp claim.
		if d := tok.Expiry.Sub(before); d < apiauthtest.DefaultArtosTokenTTL-2*time.Second || d > apiauthtest.DefaultArtosTokenTTL+2*time.Second {
			t.Errorf("token expires in %s, want about %s", d, apiauthtest.DefaultArtosTokenTTL)
		}
		assertHides(t, tok, tok.AccessToken)

		authed := artos.Client{Client: fakeClient(t, srv, apiauthtest.Artos,
			must(apiauth.NewStaticToken(tok.AccessToken))(t), nil)}
		docs, err := authed.ListDocuments(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []artos.Document{
			{ID: "doc_1", Name: "Quarterly report", OrganizationID: apiauthtest.ArtosOrgID},
			{ID: "doc_2", Name: "Study protocol", OrganizationID: apiauthtest.ArtosOrgID},
		}
		if !slices.Equal(docs, want) {
			t.Errorf("documents = %+v, want %+v", docs, want)
		}
		tpls, err := authed.ListTemplates(ctx)
		if err != nil || len(tpls) != 1 || tpls[0].ID != "tpl_1" || tpls[0].OrganizationID != apiauthtest.ArtosOrgID {
			t.Errorf("templates = %+v, %v", tpls, err)
		}
	})

	t.Run("documented errors", func(t *testing.T) {
		noOrg := srv.MintArtosToken(apiauthtest.ArtosNoOrgUserID, 0)
		expired := srv.MintArtosToken(apiauthtest.ArtosUserID, -time.Minute)
		for _, tc := range []struct {
			name      string
			cred      transport.Credential
			status    int
			detail    string
			kind, not error
		}{
			{name: "no Authorization header", status: 401, detail: "Not authenticated", kind: apiauth.ErrUnauthorized, not: apiauth.ErrForbidden},
			{name: "malformed token", cred: must(apiauth.NewStaticToken("not-a-jwt"))(t), status: 401,
				detail: "Invalid authentication credentials", kind: apiauth.ErrUnauthorized, not: apiauth.ErrForbidden},
			{name: "expired token", cred: must(apiauth.NewStaticToken(expired))(t), status: 401,
				detail: "Invalid authentication credentials", kind: apiauth.ErrUnauthorized, not: apiauth.ErrForbidden},
			{name: "user without organization", cred: must(apiauth.NewStaticToken(noOrg))(t), status: 403,
				detail: "User has no organization or not authorized", kind: apiauth.ErrForbidden, not: apiauth.ErrUnauthorized},
		} {
			t.Run(tc.name, func(t *testing.T) {
				artosAPI := artos.Client{Client: fakeClient(t, srv, apiauthtest.Artos, tc.cred, nil)}
				docs, err := artosAPI.ListDocuments(ctx)
				if docs != nil || !errors.Is(err, tc.kind) || errors.Is(err, tc.not) {
					t.Fatalf("ListDocuments = %v, %v; want nil and an error matching %v only", docs, err, tc.kind)
				}
				e := apiError(t, err)
				if e.StatusCode != tc.status || e.Detail != tc.detail || e.Path != "/artos/api/v1/documents/" {
					t.Errorf("error = %+v", e)
				}
			})
		}

		artosAPI := artos.Client{Client: fakeClient(t, srv, apiauthtest.Artos, nil, nil)}
		_, err := artosAPI.GetAccessToken(ctx, "user_unknown")
		checkKinds(t, err, apiauth.ErrUnauthorized)
		if e := apiError(t, err); e.Detail != "Invalid authentication credentials" {
			t.Errorf("unknown user: %+v", e)
		}
		before := srv.Stats().Artos.Requests
		_, err = artosAPI.GetAccessToken(ctx, "")
		checkKinds(t, err, apiauth.ErrInvalidCredential)
		if srv.Stats().Artos.Requests != before {
			t.Error("an empty user_id was sent")
		}
	})

	t.Run("a token the server sees expire is refreshed after one 401", func(t *testing.T) {
		srv := startFake(t, apiauthtest.Config{})
		src := must(apiauth.NewTokenEndpoint(srv.URL(apiauthtest.Artos)+"/get-access-token",
			apiauthtest.ArtosUserID, &apiauth.SourceOptions{HTTPClient: srv.Client()}))(t)
		cache := apiauth.NewTokenCache(src, nil)
		defer cache.Close()
		artosAPI := artos.Client{Client: fakeClient(t, srv, apiauthtest.Artos, cache, nil)}
		if _, err := artosAPI.ListDocuments(ctx); err != nil {
			t.Fatal(err)
		}
		// The server's clock jumps past the token's exp: the cached token,
		// fresh to the client, is now refused. The auth layer invalidates it,
		// the cache fetches a new one, and the request is sent again.
		srv.SetClockOffset(2 * time.Hour)
		if _, err := artosAPI.ListDocuments(ctx); err != nil {
			t.Fatalf("after the server-side expiry: %v", err)
		}
		if st := srv.Stats().Artos; st.TokensIssued != 2 || st.Unauthorized != 1 {
			t.Errorf("tokens issued %d, 401s %d; want 2 and 1", st.TokensIssued, st.Unauthorized)
		}
	})

	t.Run("zero value", func(t *testing.T) {
		_, err := artos.Client{}.ListDocuments(ctx)
		if err == nil || !strings.HasPrefix(err.Error(), "artos: no apiauth.Client") {
			t.Errorf("zero Artos: %v", err)
		}
	})
}

func TestE2EArtanis(t *testing.T) {
	ctx := context.Background()
	srv := startFake(t, apiauthtest.Config{})
	pair := must(apiauth.NewHeaderPair(apiauthtest.ArtanisAPIKey, apiauthtest.ArtanisOrgSlug))(t)
	artanisAPI := artanis.Client{Client: fakeClient(t, srv, apiauthtest.Artanis, pair,
		&apiauth.ClientOptions{TenantHeader: artanis.TenantHeader})}

	t.Run("prompts of the key's organization", func(t *testing.T) {
		prompts, err := artanisAPI.ListPrompts(ctx, apiauthtest.ArtanisProjectSlug)
		if err != nil {
			t.Fatal(err)
		}
		if len(prompts) != 2 || prompts[0].Slug != "welcome" || prompts[0].Project != apiauthtest.ArtanisProjectSlug {
			t.Errorf("prompts = %+v", prompts)
		}
	})

	t.Run("organization switched per request", func(t *testing.T) {
		second := apiauth.WithTenant(ctx, apiauthtest.ArtanisSecondOrgSlug)
		prompts, err := artanisAPI.ListPrompts(second, apiauthtest.ArtanisSecondProjectSlug)
		if err != nil || len(prompts) == 0 || prompts[0].Project != apiauthtest.ArtanisSecondProjectSlug {
			t.Fatalf("second org: %+v, %v", prompts, err)
		}
		// The same project through the default organization is another
		// organization's resource: 403.
		_, err = artanisAPI.ListPrompts(ctx, apiauthtest.ArtanisSecondProjectSlug)
		checkKinds(t, err, apiauth.ErrForbidden)
		// An organization the key does not belong to: 403.
		_, err = artanisAPI.ListPrompts(apiauth.WithTenant(ctx, apiauthtest.ArtanisForeignOrgSlug), apiauthtest.ArtanisForeignProjectSlug)
		checkKinds(t, err, apiauth.ErrForbidden)
	})

	t.Run("documented statuses", func(t *testing.T) {
		bad := artanis.Client{Client: fakeClient(t, srv, apiauthtest.Artanis,
			must(apiauth.NewHeaderPair("artanis_wrong_key_0000", apiauthtest.ArtanisOrgSlug))(t), nil)}
		_, err := bad.ListPrompts(ctx, apiauthtest.ArtanisProjectSlug)
		checkKinds(t, err, apiauth.ErrUnauthorized)
		if e := apiError(t, err); e.StatusCode != 401 || e.Code != "" {
			t.Errorf("bare 401 decoded as %+v", e)
		}
		_, err = artanisAPI.ListPrompts(ctx, "no-such-project")
		checkKinds(t, err, apiauth.ErrNotFound)
	})

	t.Run("project slug is query-escaped", func(t *testing.T) {
		odd := "q3 & q4=?/#é"
		srv.AddArtanisProject(apiauthtest.ArtanisOrgSlug, odd)
		prompts, err := artanisAPI.ListPrompts(ctx, odd)
		if err != nil || len(prompts) == 0 || prompts[0].Project != odd {
			t.Fatalf("prompts of %q = %+v, %v", odd, prompts, err)
		}
		before := srv.Stats().Artanis.Requests
		if _, err := artanisAPI.ListPrompts(ctx, ""); err == nil {
			t.Error("empty project slug accepted")
		}
		if srv.Stats().Artanis.Requests != before {
			t.Error("an empty project slug was sent")
		}
	})
}

func TestE2EVoltasis(t *testing.T) {
	ctx := context.Background()
	srv := startFake(t, apiauthtest.Config{})
	client := func(key string, opts *apiauth.ClientOptions) voltasis.Client {
		return voltasis.Client{Client: fakeClient(t, srv, apiauthtest.Voltasis, must(apiauth.NewStaticToken(key))(t), opts)}
	}
	member := client(apiauthtest.VoltasisAPIKey, &apiauth.ClientOptions{TenantHeader: voltasis.TenantHeader})
	admin := client(apiauthtest.VoltasisAdminKey, &apiauth.ClientOptions{TenantHeader: voltasis.TenantHeader})

	t.Run("who am I", func(t *testing.T) {
		me, err := member.Me(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := voltasis.User{ID: apiauthtest.VoltasisUserID, Email: apiauthtest.VoltasisEmail,
			Organization: voltasis.Organization{ID: apiauthtest.VoltasisOrgID, Name: apiauthtest.VoltasisOrgName}}
		if *me != want {
			t.Errorf("me = %+v, want %+v", *me, want)
		}
	})

	t.Run("documented errors", func(t *testing.T) {
		_, err := client("vk_unknown_key_0000", nil).Me(ctx)
		checkKinds(t, err, apiauth.ErrUnauthorized)
		if e := apiError(t, err); e.Code != "UNAUTHORIZED" || e.StatusCode != 401 {
			t.Errorf("unknown key: %+v", e)
		}
		none := voltasis.Client{Client: fakeClient(t, srv, apiauthtest.Voltasis, nil, nil)}
		_, err = none.Me(ctx)
		checkKinds(t, err, apiauth.ErrUnauthorized)
		// A scope the member key lacks cannot be granted to a new key.
		_, err = member.CreateAPIKey(ctx, voltasis.KeyRequest{Name: "escalate", Scopes: []string{apiauthtest.VoltasisOverrideScope}})
		checkKinds(t, err, apiauth.ErrForbidden)
		if e := apiError(t, err); e.Code != "FORBIDDEN" || e.StatusCode != 403 {
			t.Errorf("scope escalation: %+v", e)
		}
	})

	t.Run("organization override: member refused, admin allowed", func(t *testing.T) {
		other := apiauth.WithTenant(ctx, apiauthtest.VoltasisOtherOrgID)
		_, err := member.Me(other)
		checkKinds(t, err, apiauth.ErrForbidden)
		me, err := admin.Me(other)
		if err != nil {
			t.Fatal(err)
		}
		if me.ID != apiauthtest.VoltasisAdminUserID || me.Organization.ID != apiauthtest.VoltasisOtherOrgID ||
			me.Organization.Name != apiauthtest.VoltasisOtherOrgName {
			t.Errorf("admin acting in the other organization: %+v", me)
		}
		// The default override from the options, and its absence.
		fixed := client(apiauthtest.VoltasisAdminKey, &apiauth.ClientOptions{
			TenantHeader: voltasis.TenantHeader, Tenant: apiauthtest.VoltasisOtherOrgID})
		if me, err := fixed.Me(ctx); err != nil || me.Organization.ID != apiauthtest.VoltasisOtherOrgID {
			t.Errorf("Tenant option: %+v, %v", me, err)
		}
		if me, err := admin.Me(ctx); err != nil || me.Organization.ID != apiauthtest.VoltasisOrgID {
			t.Errorf("no override: %+v, %v", me, err)
		}
	})

	t.Run("key lifecycle: create, use, list, revoke, then 401", func(t *testing.T) {
		expires := time.Now().Add(24 * time.Hour).Truncate(time.Second)
		created, err := member.CreateAPIKey(ctx, voltasis.KeyRequest{
			Name: "CI/CD Pipeline Key", Scopes: []string{apiauthtest.VoltasisReadUsersScope}, ExpiresAt: expires})
		if err != nil {
			t.Fatal(err)
		}
		secret := created.Key.Secret()
		if created.ID == "" || secret == "" || created.Name != "CI/CD Pipeline Key" ||
			!slices.Equal(created.Scopes, []string{apiauthtest.VoltasisReadUsersScope}) ||
			!created.ExpiresAt.Equal(expires) || created.CreatedAt.IsZero() {
			t.Errorf("created = %+v", created)
		}
		assertHides(t, created, secret)
		assertHides(t, *created, secret)

		fresh := voltasis.Client{Client: fakeClient(t, srv, apiauthtest.Voltasis, created.Key, nil)}
		if me, err := fresh.Me(ctx); err != nil || me.ID != apiauthtest.VoltasisUserID {
			t.Fatalf("the new key: %+v, %v", me, err)
		}
		keys, err := member.ListAPIKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(keys, func(k voltasis.APIKey) bool { return k.ID == created.ID })
		if i < 0 || !keys[i].ExpiresAt.Equal(expires) {
			t.Fatalf("listed keys %+v lack the new key", keys)
		}
		if j := slices.IndexFunc(keys, func(k voltasis.APIKey) bool { return k.ID == apiauthtest.VoltasisAPIKeyID }); j < 0 || !keys[j].ExpiresAt.IsZero() {
			t.Errorf("the seeded key never expires: %+v", keys)
		}

		if err := member.RevokeAPIKey(ctx, created.ID); err != nil {
			t.Fatal(err)
		}
		_, err = fresh.Me(ctx)
		checkKinds(t, err, apiauth.ErrUnauthorized)
		if e := apiError(t, err); e.Code != "UNAUTHORIZED" || strings.Contains(err.Error(), secret) {
			t.Errorf("revoked key: %v", err)
		}
		keys, _ = member.ListAPIKeys(ctx)
		if slices.ContainsFunc(keys, func(k voltasis.APIKey) bool { return k.ID == created.ID }) {
			t.Error("a revoked key is still listed")
		}
		checkKinds(t, member.RevokeAPIKey(ctx, created.ID), apiauth.ErrNotFound)
	})

	t.Run("key ID escaped as one path segment", func(t *testing.T) {
		const secret = "vk_fake_slashed_0001"
		id := srv.AddVoltasisKey(apiauthtest.VoltasisKey{Secret: secret, ID: "key/with ?#%2F", UserID: apiauthtest.VoltasisUserID,
			OrgID: apiauthtest.VoltasisOrgID})
		if err := member.RevokeAPIKey(ctx, id); err != nil {
			t.Fatalf("revoking %q: %v", id, err)
		}
		_, err := client(secret, nil).Me(ctx)
		checkKinds(t, err, apiauth.ErrUnauthorized)
		for _, bad := range []string{"", ".", ".."} {
			if err := member.RevokeAPIKey(ctx, bad); err == nil || errors.Is(err, apiauth.ErrNotFound) {
				t.Errorf("RevokeAPIKey(%q) = %v, want a local error", bad, err)
			}
		}
	})
}

func TestE2EAudiModal(t *testing.T) {
	ctx := context.Background()
	srv := startFake(t, apiauthtest.Config{})
	tenantOpts := &apiauth.ClientOptions{TenantHeader: audimodal.TenantHeader}
	keyClient := func(key string) audimodal.Client {
		return audimodal.Client{Client: fakeClient(t, srv, apiauthtest.AudiModal, must(apiauth.ParseAPIKey(key))(t), tenantOpts)}
	}
	admin := keyClient(apiauthtest.AudiModalLiveKey)

	t.Run("health and files", func(t *testing.T) {
		h, err := admin.Health(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if h.Status != "healthy" || h.Service != "audimodal-api" || h.TenantID != apiauthtest.AudiModalTenantID ||
			time.Since(h.Timestamp).Abs() > time.Minute {
			t.Errorf("health = %+v", h)
		}
		files, err := admin.ListFiles(ctx)
		if err != nil || files.TenantID != apiauthtest.AudiModalTenantID || len(files.Files) != 2 || files.Files[0].ID != "file_1" {
			t.Errorf("files = %+v, %v", files, err)
		}
	})

	t.Run("OnResponse shows what typed methods return no Response for", func(t *testing.T) {
		var seen []*apiauth.Response
		opts := *tenantOpts
		opts.OnResponse = func(r *apiauth.Response) { seen = append(seen, r) }
		nonAdmin := audimodal.Client{Client: fakeClient(t, srv, apiauthtest.AudiModal, must(apiauth.ParseAPIKey(apiauthtest.AudiModalTenantKey))(t), &opts)}
		if _, err := nonAdmin.Health(ctx); err != nil {
			t.Fatal(err)
		}
		_, err := nonAdmin.ListFiles(apiauth.WithTenant(ctx, apiauthtest.AudiModalOtherTenantID))
		checkKinds(t, err, apiauth.ErrForbidden, apiauth.ErrInsufficientPermissions)
		if len(seen) != 2 {
			t.Fatalf("OnResponse called %d times, want 2 (one per answer)", len(seen))
		}
		ok, refused := seen[0], seen[1]
		if ok.StatusCode != 200 || !strings.HasSuffix(ok.Request.URL.Path, "/v1/health") || !ok.RateLimit.Present || ok.RateLimit.Limit <= 0 || ok.RateLimit.Remaining < 0 || ok.RateLimit.Reset.IsZero() {
			t.Errorf("health answer: status %d, path %s, rate limit %+v", ok.StatusCode, ok.Request.URL.Path, ok.RateLimit)
		}
		if refused.StatusCode != 403 || !strings.HasSuffix(refused.Request.URL.Path, "/v1/files") || !refused.RateLimit.Present {
			t.Errorf("refused answer: status %d, path %s, rate limit %+v", refused.StatusCode, refused.Request.URL.Path, refused.RateLimit)
		}
		if refused.RateLimit.Remaining >= ok.RateLimit.Remaining {
			t.Errorf("remaining went from %d to %d: the second answer's own snapshot is not the one shown", ok.RateLimit.Remaining, refused.RateLimit.Remaining)
		}
	})

	t.Run("tenant override: admin only", func(t *testing.T) {
		other := apiauth.WithTenant(ctx, apiauthtest.AudiModalOtherTenantID)
		h, err := admin.Health(other)
		if err != nil || h.TenantID != apiauthtest.AudiModalOtherTenantID {
			t.Fatalf("admin health in the other tenant: %+v, %v", h, err)
		}
		files, err := admin.ListFiles(other)
		if err != nil || files.TenantID != apiauthtest.AudiModalOtherTenantID || len(files.Files) != 1 || files.Files[0].ID != "file_3" {
			t.Errorf("admin files in the other tenant: %+v, %v", files, err)
		}
		for _, key := range []string{apiauthtest.AudiModalTenantKey, apiauthtest.AudiModalTestKey} {
			_, err := keyClient(key).ListFiles(other)
			checkKinds(t, err, apiauth.ErrForbidden, apiauth.ErrInsufficientPermissions)
			if e := apiError(t, err); e.StatusCode != 403 || e.Code != "INSUFFICIENT_PERMISSIONS" || e.RequiredRole != "admin" {
				t.Errorf("non-admin override: %+v", e)
			}
		}
	})

	t.Run("IP allowlist", func(t *testing.T) {
		got, err := admin.SetIPAllowlist(ctx, []string{"192.168.1.0/24", "10.0.0.100"})
		want := []string{"192.168.1.0/24", "10.0.0.100"}
		if err != nil || got.TenantID != apiauthtest.AudiModalTenantID || !slices.Equal(got.AllowedIPs, want) {
			t.Fatalf("SetIPAllowlist = %+v, %v", got, err)
		}
		if l := srv.AudiModalIPAllowlist(apiauthtest.AudiModalTenantID); !slices.Equal(l, want) {
			t.Errorf("server holds %v", l)
		}
		got, err = admin.SetIPAllowlist(apiauth.WithTenant(ctx, apiauthtest.AudiModalOtherTenantID), nil)
		if err != nil || got.TenantID != apiauthtest.AudiModalOtherTenantID || len(got.AllowedIPs) != 0 {
			t.Errorf("empty list for the other tenant: %+v, %v", got, err)
		}
		_, err = keyClient(apiauthtest.AudiModalTestKey).SetIPAllowlist(ctx, want)
		checkKinds(t, err, apiauth.ErrForbidden, apiauth.ErrInsufficientPermissions)
		if e := apiError(t, err); e.RequiredRole != "admin" {
			t.Errorf("required role %q", e.RequiredRole)
		}
		_, err = admin.SetIPAllowlist(ctx, []string{"not-an-ip"})
		if e := apiError(t, err); e.StatusCode != 400 || e.Code != "INVALID_REQUEST" {
			t.Errorf("bad entry: %+v", e)
		}
	})

	t.Run("documented errors", func(t *testing.T) {
		_, err := keyClient("sk_live_unknown_key_00000000").Health(ctx)
		checkKinds(t, err, apiauth.ErrUnauthorized, apiauth.ErrInvalidAPIKey)
		if e := apiError(t, err); e.StatusCode != 401 || e.Code != "INVALID_API_KEY" {
			t.Errorf("unknown key: %+v", e)
		}

		expired := srv.MintAudiModalToken(apiauthtest.AudiModalEmail, -time.Minute)
		am := audimodal.Client{Client: fakeClient(t, srv, apiauthtest.AudiModal, must(apiauth.NewStaticToken(expired))(t), nil)}
		_, err = am.ListFiles(ctx)
		checkKinds(t, err, apiauth.ErrUnauthorized, apiauth.ErrTokenExpired)
		e := apiError(t, err)
		if ago := time.Since(e.ExpiresAt); e.Code != "TOKEN_EXPIRED" || ago < 50*time.Second || ago > 2*time.Minute {
			t.Errorf("expired token: code %q, expired %s ago", e.Code, ago)
		}
		if strings.Contains(err.Error(), expired) {
			t.Error("the error shows the token")
		}
	})

	t.Run("login and refresh rotation", func(t *testing.T) {
		srv := startFake(t, apiauthtest.Config{})
		am := audimodal.Client{Client: fakeClient(t, srv, apiauthtest.AudiModal, nil, nil)}
		login := apiauth.Login{Email: apiauthtest.AudiModalEmail, Password: apiauthtest.AudiModalPassword, TenantID: apiauthtest.AudiModalTenantID}
		before := time.Now()
		sess, err := am.Login(ctx, login)
		if err != nil {
			t.Fatal(err)
		}
		tok := sess.Token
		wantUser := audimodal.User{ID: apiauthtest.AudiModalUserID, Email: apiauthtest.AudiModalEmail, Role: "admin", TenantID: apiauthtest.AudiModalTenantID}
		if sess.User != wantUser || tok.AccessToken == "" || tok.RefreshToken == "" || tok.Type() != "Bearer" {
			t.Errorf("session = %+v", sess)
		}
		if d := tok.Expiry.Sub(before); d < time.Hour-2*time.Second || d > time.Hour+2*time.Second {
			t.Errorf("expires_in read as %s", d)
		}
		assertHides(t, sess, tok.AccessToken, tok.RefreshToken)
		assertHides(t, *sess, tok.AccessToken, tok.RefreshToken)

		user := audimodal.Client{Client: fakeClient(t, srv, apiauthtest.AudiModal, must(apiauth.NewStaticToken(tok.AccessToken))(t), nil)}
		if files, err := user.ListFiles(ctx); err != nil || files.TenantID != apiauthtest.AudiModalTenantID {
			t.Fatalf("files with the session token: %+v, %v", files, err)
		}

		next, err := am.Refresh(ctx, tok.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		if next.Token.RefreshToken == "" || next.Token.RefreshToken == tok.RefreshToken || next.Token.AccessToken == tok.AccessToken || next.User != wantUser {
			t.Errorf("refresh did not rotate: %+v", next)
		}
		// Refresh tokens are single use.
		_, err = am.Refresh(ctx, tok.RefreshToken)
		checkKinds(t, err, apiauth.ErrUnauthorized)
		if st := srv.Stats().AudiModal; st.Logins != 1 || st.Refreshes != 1 || st.RefreshRejections != 1 {
			t.Errorf("logins %d, refreshes %d, rejections %d; want 1, 1, 1", st.Logins, st.Refreshes, st.RefreshRejections)
		}

		bad := login
		bad.Password = "wrong-password-1234"
		_, err = am.Login(ctx, bad)
		checkKinds(t, err, apiauth.ErrUnauthorized)
		if strings.Contains(err.Error(), bad.Password) {
			t.Error("the error shows the password")
		}
		requests := srv.Stats().AudiModal.Requests
		bad.Password = ""
		_, err = am.Login(ctx, bad)
		checkKinds(t, err, apiauth.ErrInvalidCredential)
		_, err = am.Refresh(ctx, "")
		checkKinds(t, err, apiauth.ErrInvalidCredential)
		if srv.Stats().AudiModal.Requests != requests {
			t.Error("an empty password or refresh token was sent")
		}
	})

	t.Run("RATE_LIMIT_EXCEEDED without retries", func(t *testing.T) {
		// An hour-long window with room for one request: the second request
		// is refused whatever the timing.
		srv := startFake(t, apiauthtest.Config{AudiModalRateLimit: apiauthtest.RateLimit{Limit: 1, Window: time.Hour}})
		key := must(apiauth.ParseAPIKey(apiauthtest.AudiModalLiveKey))(t)
		first := audimodal.Client{Client: fakeClient(t, srv, apiauthtest.AudiModal, key, nil)}
		if _, err := first.Health(ctx); err != nil {
			t.Fatal(err)
		}
		// A second client, which has seen no limit headers yet, sends the
		// request and gets the server's 429.
		once := audimodal.Client{Client: fakeClient(t, srv, apiauthtest.AudiModal, key,
			&apiauth.ClientOptions{Retry: transport.RetryOptions{MaxAttempts: 1}})}
		_, err := once.Health(ctx)
		checkKinds(t, err, apiauth.ErrRateLimited)
		var rl *apiauth.RateLimitError
		if !errors.As(err, &rl) || rl.RetryAfter <= 0 || rl.RetryAfter > time.Hour || rl.Reset.IsZero() {
			t.Fatalf("err = %v, want a *RateLimitError with a wait", err)
		}
		if e := apiError(t, err); e.Code != "RATE_LIMIT_EXCEEDED" || e.StatusCode != 429 {
			t.Errorf("decoded 429: %+v", e)
		}
	})

	t.Run("zero value", func(t *testing.T) {
		if _, err := (audimodal.Client{}).Health(ctx); err == nil {
			t.Error("zero AudiModal: no error")
		}
	})
}
