// Package drivers registers every objstore driver silt ships, so that
// objstore.Open understands all bucket URLs. Programs import it for its side
// effect:
//
//	import _ "github.com/silt-io/silt/objstore/drivers"
package drivers

import (
	_ "github.com/silt-io/silt/objstore/file"  // file:// and bare paths
	_ "github.com/silt-io/silt/objstore/mem"   // mem://
	_ "github.com/silt-io/silt/objstore/minio" // minio://
	_ "github.com/silt-io/silt/objstore/s3"    // s3://
)
