package registrytest

import (
	"fmt"
	"io"
	"net/http"
	"sync/atomic"

	v2 "github.com/distribution/distribution/v3/registry/api/v2"
	"github.com/felixge/httpsnoop"
	"github.com/gorilla/mux"
)

// Stats counts the requests that reached the registry, by kind.
//
// Requests are classified with Distribution's own v2 API router, so a request
// is counted under the same route the registry dispatches it to.
//
// Only requests that reached the registry application are counted: a request
// answered by a [WithHandlerWrapper] wrapper without calling the wrapped
// handler is not. Total and the status counters (Unauthorized, ClientErrors,
// ServerErrors) count every such request. The per-kind counters (Base through
// Other) leave out requests refused with 401 Unauthorized, so that the
// anonymous first attempt of a client doing the auth challenge dance does not
// double-count, e.g., an upload: a 401 means the registry did not act on the
// request.
type Stats struct {
	// Total is the number of requests that reached the registry.
	Total int

	// Base counts GET/HEAD /v2/ (API version checks, login probes).
	Base int
	// Catalog counts GET /v2/_catalog.
	Catalog int
	// TagLists counts GET /v2/<name>/tags/list.
	TagLists int

	// ManifestGETs counts GET /v2/<name>/manifests/<reference>.
	ManifestGETs int
	// ManifestHEADs counts HEAD /v2/<name>/manifests/<reference>.
	ManifestHEADs int
	// ManifestPUTs counts PUT /v2/<name>/manifests/<reference>.
	ManifestPUTs int
	// ManifestDELETEs counts DELETE /v2/<name>/manifests/<reference>.
	ManifestDELETEs int

	// BlobGETs counts GET /v2/<name>/blobs/<digest> (blob downloads).
	BlobGETs int
	// BlobHEADs counts HEAD /v2/<name>/blobs/<digest> (existence checks).
	BlobHEADs int
	// BlobDELETEs counts DELETE /v2/<name>/blobs/<digest>.
	BlobDELETEs int

	// BlobUploadsStarted counts POST /v2/<name>/blobs/uploads/ without a
	// "mount" query parameter: each one opens an upload session (or, with
	// "?digest=", is a single-request monolithic upload).
	BlobUploadsStarted int
	// BlobMountRequests counts POST /v2/<name>/blobs/uploads/?mount=...
	// (cross-repository mount attempts). Distribution answers 201 when the
	// mount worked and 202 with a fresh upload session when it did not.
	BlobMountRequests int
	// BlobUploadChunks counts PATCH /v2/<name>/blobs/uploads/<uuid>.
	BlobUploadChunks int
	// BlobUploadsCompleted counts PUT /v2/<name>/blobs/uploads/<uuid>?digest=...
	// (the request that commits an upload session), successful or not.
	BlobUploadsCompleted int
	// BlobUploadStatusChecks counts GET /v2/<name>/blobs/uploads/<uuid>.
	BlobUploadStatusChecks int
	// BlobUploadsCancelled counts DELETE /v2/<name>/blobs/uploads/<uuid>.
	BlobUploadsCancelled int

	// Other counts requests matching no Distribution route or an unexpected
	// method on one, e.g. /v2/<name>/referrers/<digest>, which Distribution
	// v3 does not implement (it answers 404).
	Other int

	// Unauthorized counts responses with status 401.
	Unauthorized int
	// ClientErrors counts responses with a 4xx status, including 401s.
	ClientErrors int
	// ServerErrors counts responses with a 5xx status.
	ServerErrors int

	// BytesUploaded is the number of request body bytes the registry read on
	// blob upload requests (POST, PATCH and PUT on /blobs/uploads/).
	BytesUploaded int64
	// BytesDownloaded is the number of response body bytes written for blob
	// GETs.
	BytesDownloaded int64
}

// Request records one request that reached the registry.
type Request struct {
	// Method is the HTTP method.
	Method string
	// Path is the URL path, e.g. "/v2/demo/app/blobs/uploads/".
	Path string
	// RawQuery is the URL query without the leading "?".
	RawQuery string
	// Route is Distribution's name for the matched v2 API route: "base",
	// "manifest", "tags", "blob", "blob-upload", "blob-upload-chunk",
	// "catalog", or "" when no route matched.
	Route string
	// Repository is the repository name from the path, if the route has one.
	Repository string
	// Reference is the tag or digest of a manifest or blob route, or the
	// upload session id of a blob-upload-chunk route.
	Reference string
	// Status is the response status code.
	Status int
	// BytesIn is the number of request body bytes the registry read.
	BytesIn int64
	// BytesOut is the number of response body bytes written.
	BytesOut int64
}

// router is Distribution's own v2 route table, used only for classification.
var router = v2.Router()

// classify matches r against Distribution's routes.
func classify(r *http.Request) (route string, vars map[string]string) {
	var m mux.RouteMatch
	if router.Match(r, &m) && m.Route != nil {
		return m.Route.GetName(), m.Vars
	}
	return "", nil
}

// countingBody counts the bytes read from a request body.
type countingBody struct {
	io.ReadCloser
	n atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// record wraps next so every request is classified and counted.
func (reg *Registry) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, vars := classify(r)
		req := Request{
			Method:     r.Method,
			Path:       r.URL.Path,
			RawQuery:   r.URL.RawQuery,
			Route:      route,
			Repository: vars["name"],
		}
		switch route {
		case v2.RouteNameManifest:
			req.Reference = vars["reference"]
		case v2.RouteNameBlob:
			req.Reference = vars["digest"]
		case v2.RouteNameBlobUploadChunk:
			req.Reference = vars["uuid"]
		}

		var body *countingBody
		if r.Body != nil && r.Body != http.NoBody {
			body = &countingBody{ReadCloser: r.Body}
			r.Body = body
		}
		m := httpsnoop.CaptureMetrics(next, w, r)
		req.Status = m.Code
		req.BytesOut = m.Written
		if body != nil {
			req.BytesIn = body.n.Load()
		}

		reg.mu.Lock()
		defer reg.mu.Unlock()
		reg.requests = append(reg.requests, req)
		reg.stats.add(req, r.URL.Query().Has("mount"))
	})
}

// add counts req into s.
func (s *Stats) add(req Request, mount bool) {
	s.Total++
	switch {
	case req.Status == http.StatusUnauthorized:
		s.Unauthorized++
		s.ClientErrors++
		return // the registry did not act on it; see the Stats doc.
	case req.Status >= 500:
		s.ServerErrors++
	case req.Status >= 400:
		s.ClientErrors++
	}

	method := req.Method
	switch req.Route {
	case v2.RouteNameBase:
		s.Base++
		return
	case v2.RouteNameCatalog:
		s.Catalog++
		return
	case v2.RouteNameTags:
		s.TagLists++
		return
	case v2.RouteNameManifest:
		switch method {
		case http.MethodGet:
			s.ManifestGETs++
			return
		case http.MethodHead:
			s.ManifestHEADs++
			return
		case http.MethodPut:
			s.ManifestPUTs++
			return
		case http.MethodDelete:
			s.ManifestDELETEs++
			return
		}
	case v2.RouteNameBlob:
		switch method {
		case http.MethodGet:
			s.BlobGETs++
			s.BytesDownloaded += req.BytesOut
			return
		case http.MethodHead:
			s.BlobHEADs++
			return
		case http.MethodDelete:
			s.BlobDELETEs++
			return
		}
	case v2.RouteNameBlobUpload:
		if method == http.MethodPost {
			if mount {
				s.BlobMountRequests++
			} else {
				s.BlobUploadsStarted++
			}
			s.BytesUploaded += req.BytesIn
			return
		}
	case v2.RouteNameBlobUploadChunk:
		switch method {
		case http.MethodPatch:
			s.BlobUploadChunks++
			s.BytesUploaded += req.BytesIn
			return
		case http.MethodPut:
			s.BlobUploadsCompleted++
			s.BytesUploaded += req.BytesIn
			return
		case http.MethodGet, http.MethodHead:
			s.BlobUploadStatusChecks++
			return
		case http.MethodDelete:
			s.BlobUploadsCancelled++
			return
		}
	}
	s.Other++
}

// Stats returns a copy of the request counters.
func (reg *Registry) Stats() Stats {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	return reg.stats
}

// Requests returns a copy of the log of requests that reached the registry,
// in completion order, since New or the last ResetStats.
func (reg *Registry) Requests() []Request {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	return append([]Request(nil), reg.requests...)
}

// ResetStats zeroes the counters and clears the request log. Requests in
// flight when it is called are counted after the reset when they complete.
func (reg *Registry) ResetStats() {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	reg.stats = Stats{}
	reg.requests = nil
}

// String renders a request like "PUT /v2/demo/blobs/uploads/x?digest=... -> 201".
func (r Request) String() string {
	target := r.Path
	if r.RawQuery != "" {
		target += "?" + r.RawQuery
	}
	return fmt.Sprintf("%s %s -> %d", r.Method, target, r.Status)
}
