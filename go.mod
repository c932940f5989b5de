module github.com/apiauth/apiauth

go 1.25

require (
	github.com/golang-jwt/jwt/v5 v5.3.1
	go.uber.org/goleak v1.3.0
)
