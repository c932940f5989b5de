//go:build !unix

package redistest

import "os"

// Pausing needs SIGSTOP and SIGCONT: nil makes Pause and Resume fail.
var sigStop, sigCont os.Signal
