module github.com/apiauth/apiauth

go 1.25
