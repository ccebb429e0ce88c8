package iceberg

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCatalog(t *testing.T) {
	for _, bk := range buckets {
		t.Run(bk.name, func(t *testing.T) {
			ctx := testContext(t)
			b := bk.open(t)
			for _, topic := range []string{"orders", "orders-eu", "orders.v2", "payments"} {
				if _, err := Open(b, topic, Options{}).Append(ctx, "id", []Range{{0, 0, 10}}, []DataFile{testFile(topic, 0, 0, 9)}); err != nil {
					t.Fatal(err)
				}
			}
			// An export without a table (files from before tables existed)
			// is not listed.
			if _, err := b.Put(ctx, "export/old/dt=2025-01-01/hour=00/part-0-0-1.parquet", []byte("x")); err != nil {
				t.Fatal(err)
			}
			mux := http.NewServeMux()
			NewCatalog(b, "", nil).Register(mux)
			srv := httptest.NewServer(mux)
			defer srv.Close()

			for _, c := range []struct {
				method, path string
				code         int
				want         string // a substring of the body
			}{
				{"GET", "/v1/config", 200, `"GET /v1/{prefix}/namespaces/{namespace}/tables/{table}"`},
				{"GET", "/v1/namespaces", 200, `{"namespaces":[["silt"]]}`},
				{"GET", "/v1/namespaces?parent=silt", 200, `{"namespaces":[]}`},
				{"GET", "/v1/namespaces/silt", 200, `"namespace":["silt"]`},
				{"HEAD", "/v1/namespaces/silt", 204, ""},
				{"GET", "/v1/namespaces/other", 404, `"type":"NoSuchNamespaceException"`},
				{"GET", "/v1/namespaces/silt%1Forders/tables/snapshots", 404, `"type":"NoSuchTableException"`},
				{"GET", "/v1/namespaces/silt/tables", 200,
					`"identifiers":[{"name":"orders","namespace":["silt"]},{"name":"orders-eu","namespace":["silt"]},` +
						`{"name":"orders.v2","namespace":["silt"]},{"name":"payments","namespace":["silt"]}]`},
				{"GET", "/v1/namespaces/silt/tables/orders", 200, `"metadata-location":"` + LocationOf(b.Name()) + `/export/orders/metadata/v1.metadata.json"`},
				{"HEAD", "/v1/namespaces/silt/tables/orders", 204, ""},
				{"GET", "/v1/namespaces/silt/tables/old", 404, `"type":"NoSuchTableException"`},
				{"HEAD", "/v1/namespaces/silt/tables/nope", 404, ""},
				{"GET", "/v1/namespaces/silt/tables/.%2E", 404, ""},
				{"GET", "/v1/namespaces/silt/tables/a%2Fb", 404, `NoSuchTableException`},
				{"POST", "/v1/namespaces/silt/tables/orders", 406, `"type":"UnsupportedOperationException"`},
				{"DELETE", "/v1/namespaces/silt/tables/orders", 406, `read-only`},
				{"GET", "/v1/namespaces/silt/views", 404, `NoSuchRouteException`},
			} {
				req, _ := http.NewRequestWithContext(ctx, c.method, srv.URL+c.path, nil)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != c.code || !strings.Contains(string(body), c.want) {
					t.Errorf("%s %s: %d %s\nwant %d with %s", c.method, c.path, resp.StatusCode, body, c.code, c.want)
				}
			}

			// The loaded metadata is the table's current version.
			resp, err := http.Get(srv.URL + "/v1/namespaces/silt/tables/payments")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var res struct {
				Metadata Metadata `json:"metadata"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
				t.Fatal(err)
			}
			if s := res.Metadata.Current(); s == nil || s.Summary["total-records"] != "10" || res.Metadata.Location != LocationOf(b.Name())+"/export/payments" {
				t.Fatalf("loaded metadata: %+v", res.Metadata)
			}
		})
	}
}
