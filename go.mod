module github.com/apiauth/apiauth

go 1.25

require github.com/jarcoal/httpmock v1.4.2
