package apiauth_test

// fltTokenCases are the fault-matrix rows for hostile token endpoints and shutdown: issue 13 rows 6, 8, 9, 11.
func fltTokenCases() []fltCase {
	return nil
}
