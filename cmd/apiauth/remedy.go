package main

import (
	"errors"
	"net/http"
	"strings"

	"github.com/apiauth/apiauth"
)

// remedy is a provider's own documented advice for a failure, and where in
// its documentation (the seeds under /work/shared/seeds) it comes from.
type remedy struct {
	Source string   `json:"source"`
	Steps  []string `json:"steps"`
}

// remedyFor returns the documented remedy of family for err, or nil when the
// provider documents none for it. Only Artos' page has a "Common Issues"
// section; for the others the text is taken from the section that plays
// that part (Voltasis' "Common Causes" and "Troubleshooting", Artanis'
// "Errors" table, AudiModal's "Error Responses", "Key Formats" and
// "Rate Limiting"), quoted as written.
func remedyFor(family string, err error) *remedy {
	var apiErr *apiauth.Error
	errors.As(err, &apiErr)
	status, detail, path := 0, "", ""
	if apiErr != nil {
		status, detail, path = apiErr.StatusCode, apiErr.Detail, apiErr.Path
	}
	rateLimited := errors.Is(err, apiauth.ErrRateLimited)
	switch family {
	case "artos":
		switch {
		case detail == "Not authenticated":
			return &remedy{Source: `Artos docs, Authentication: Common Issues, "Not authenticated" Error`, Steps: []string{
				"The most common cause is a missing or malformed Authorization header.",
				"Is the Authorization header present?",
				"Does it use the correct format: Authorization: Bearer TOKEN?",
				"Is the token valid and not expired?",
				"Is the token for your organization?",
			}}
		case status == http.StatusUnauthorized && strings.HasSuffix(path, "/get-access-token"):
			return &remedy{Source: "Artos docs, Authentication: Getting a Token", Steps: []string{
				"Obtain a Bearer token by calling the /get-access-token endpoint with your user_id: the endpoint refused the user id (" + envArtosUserID + ").",
				"The token expires after a fixed period. Request a new token by calling this endpoint again with your user_id.",
			}}
		case status == http.StatusUnauthorized:
			return &remedy{Source: `Artos docs, Authentication: Common Issues, "Invalid authentication credentials" Error`, Steps: []string{
				"Verify the token value is correct (no extra spaces or characters)",
				"Obtain a fresh token from your administrator",
				"Check that the token hasn't been revoked",
				"Ensure the token is for the correct environment (production vs. staging)",
			}}
		case status == http.StatusForbidden:
			return &remedy{Source: "Artos docs, Authentication: Error Responses, Wrong Organization (403 Forbidden)", Steps: []string{
				"Possible causes: the token is for a different organization; the user account is not properly configured.",
				"Contact your organization administrator to verify your account setup.",
			}}
		}
	case "artanis":
		switch status {
		case http.StatusUnauthorized:
			return &remedy{Source: "Artanis docs, Authentication: Errors (401)", Steps: []string{
				"Missing or invalid x-api-key, or no Clerk session if you're calling without an API key.",
				"x-api-key is issued by Artanis; treat it like a password, and rotate it immediately if it leaks.",
			}}
		case http.StatusForbidden:
			return &remedy{Source: "Artanis docs, Authentication: Errors (403)", Steps: []string{
				"The requested project or resource does not belong to the organization in x-org-slug.",
				"x-org-slug is the slug of the organization you want to read from, visible in the dashboard URL.",
			}}
		case http.StatusNotFound:
			return &remedy{Source: "Artanis docs, Authentication: Errors (404)", Steps: []string{
				"Resource does not exist: check --project.",
			}}
		}
	case "voltasis":
		switch {
		case rateLimited:
			return &remedy{Source: "Voltasis docs, Authentication Guide: Troubleshooting, Rate Limiting", Steps: []string{
				"Without auth: 100 requests/minute; with auth: 1000 requests/minute.",
			}}
		case errors.Is(err, apiauth.ErrUnauthorized):
			return &remedy{Source: "Voltasis docs, Authentication Guide: 401 Unauthorized (Common Causes) and Troubleshooting", Steps: []string{
				"Common causes: missing Authorization header; malformed token; expired token; revoked API key.",
				`Check for typos (common: extra spaces, missing "Bearer" prefix)`,
				"Verify the token hasn't been revoked",
				"Ensure you're using the correct environment (dev/prod)",
				"Check API status page for outages",
			}}
		case errors.Is(err, apiauth.ErrForbidden):
			return &remedy{Source: "Voltasis docs, Authentication Guide: 403 Forbidden (Common Causes)", Steps: []string{
				"Token lacks required scopes",
				"Resource belongs to different organization (X-Organization-ID requires special permissions)",
				"Feature not available in your plan",
			}}
		}
	case "audimodal":
		switch {
		case rateLimited:
			return &remedy{Source: "AudiModal docs, Authentication: Rate Limiting", Steps: []string{
				"Rate limits are enforced per API key (X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset).",
				"Wait for the reset, or the retry_after seconds of the 429 answer, before retrying.",
			}}
		case errors.Is(err, apiauth.ErrTokenExpired):
			return &remedy{Source: "AudiModal docs, Authentication: Expired Token and Refresh Tokens", Steps: []string{
				"Access token has expired: when access tokens expire, use refresh tokens (POST /v1/auth/refresh), or log in again (POST /v1/auth/login).",
			}}
		case errors.Is(err, apiauth.ErrInsufficientPermissions), errors.Is(err, apiauth.ErrForbidden):
			return &remedy{Source: "AudiModal docs, Authentication: Insufficient Permissions and Cross-Tenant Access (Admin Only)", Steps: []string{
				"Insufficient permissions for this operation: the answer names the required role.",
				"API keys are automatically scoped to your tenant; only admin users can access other tenants (X-Tenant-ID).",
			}}
		case errors.Is(err, apiauth.ErrUnauthorized) && strings.HasSuffix(path, "/v1/auth/login"):
			return &remedy{Source: "AudiModal docs, Authentication: JWT Token Authentication, Login Endpoint", Steps: []string{
				"POST /v1/auth/login takes the email, password and tenant_id of a user of that tenant: check " +
					envAudiModalEmail + ", " + envAudiModalPassword + " and " + envAudiModalTenantID + ".",
				"AudiModal documents no error codes for a refused login.",
			}}
		case errors.Is(err, apiauth.ErrUnauthorized):
			return &remedy{Source: "AudiModal docs, Authentication: Invalid API Key, Key Formats and Getting an API Key", Steps: []string{
				"Invalid or expired API key.",
				"Key formats: sk_live_ prefix for production, sk_test_ prefix for development, tk_ prefix for tenant-specific access.",
				"Keys come from AudiModal (contact sales@audimodal.ai, complete tenant onboarding, receive your API key via secure channel).",
			}}
		}
	}
	return nil
}

// remedyInsecure is the documented advice for a plain-http base URL.
func remedyInsecure(family string) *remedy {
	switch family {
	case "artos":
		return &remedy{Source: "Artos docs, Authentication: Security Best Practices, HTTPS Only", Steps: []string{"Always use HTTPS when making API requests with Bearer tokens."}}
	case "audimodal":
		return &remedy{Source: "AudiModal docs, Authentication: HTTPS Only", Steps: []string{"All API requests must use HTTPS: plain http will be rejected."}}
	}
	return &remedy{Source: "apiauth", Steps: []string{"Use an https:// base URL: apiauth sends credentials over plain http only to loopback hosts."}}
}

// lines renders the remedy's steps as a list, each line after indent.
func (r *remedy) lines(indent string) string {
	var b strings.Builder
	for _, s := range r.Steps {
		b.WriteString(indent + "- " + s + "\n")
	}
	return b.String()
}
