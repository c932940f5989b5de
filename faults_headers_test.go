package apiauth_test

// fltHeaderCases are the fault-matrix rows for header spellings: issue 13 rows 1-2.
func fltHeaderCases() []fltCase {
	return nil
}
