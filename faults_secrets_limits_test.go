package apiauth_test

// fltSecretLimitCases are the fault-matrix rows for echoed secrets and far-off resets: issue 13 rows 3, 4.
func fltSecretLimitCases() []fltCase {
	return nil
}
