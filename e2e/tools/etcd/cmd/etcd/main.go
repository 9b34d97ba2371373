// Command etcd is the upstream etcd server (etcdmain), built from its Go module
// because no etcd release binary can be downloaded in our build environment.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
