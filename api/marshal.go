package api

// unwrappedJSON is the gateway's JSON marshaler except that a server stream's messages
// are written bare, one object a line, as GET /v1/alerts lists them and as every other
// alert surface (stdout, file, Kafka, webhook, SSE) writes them, rather than wrapped in
// {"result": …}. A stream's error stays {"error": …}.
type unwrappedJSON struct {
	numberJSON
}

// Marshal writes v; the gateway hands each streamed message over as {"result": msg}.
func (m unwrappedJSON) Marshal(v any) ([]byte, error) {
	if w, ok := v.(map[string]any); ok && len(w) == 1 {
		if r, ok := w["result"]; ok {
			return m.numberJSON.Marshal(r)
		}
	}
	return m.numberJSON.Marshal(v)
}
