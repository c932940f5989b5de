module github.com/apiauth/apiauth

go 1.26.0

require (
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	go.uber.org/goleak v1.3.0 // indirect
	golang.org/x/oauth2 v0.37.0 // indirect
)
