// Package tenant carries the per-request tenant override on a context:
// apiauth.WithTenant sets it, transport.Auth reads it. It lives here so that
// the two share one key and the SDK has one WithTenant.
package tenant

import "context"

type key struct{}

// With returns a copy of ctx carrying t as the tenant override; an empty t
// clears an override set further up.
func With(ctx context.Context, t string) context.Context {
	return context.WithValue(ctx, key{}, t)
}

// From returns the override ctx carries, and whether one was set.
func From(ctx context.Context) (string, bool) {
	t, ok := ctx.Value(key{}).(string)
	return t, ok
}
