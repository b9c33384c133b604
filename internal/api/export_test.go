package api

// RouteList lists the handler's routes as "METHOD /path" (paths under
// Prefix), for the OpenAPI test, with the permission each needs.
func RouteList() map[string]string {
	out := map[string]string{}
	for _, rt := range (&handler{}).routes() {
		out[rt.method+" "+rt.path] = rt.need
	}
	return out
}
