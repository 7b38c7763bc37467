import { useState } from "preact/hooks";
import { api } from "../../session";
import { Button, Field, LoadState, Money, Page, Select } from "../../ui/components";
import { useLoad } from "../../ui/data";
import { Pager, usePages } from "./shared";

const PAGE_SIZE = 12;

/** `/catalog`: the marketplace of published solutions, searchable, page by page. */
export function Catalog() {
  const [draft, setDraft] = useState("");
  const [q, setQ] = useState("");
  const [sort, setSort] = useState<"popular" | "rating" | "newest" | "price">("popular");
  const pages = usePages();
  const cursor = pages.cursor;
  const page = useLoad(
    () =>
      api.request("get", "/api/solutions", {
        query: { q: q || undefined, sort, limit: PAGE_SIZE, cursor },
      }),
    [q, sort, cursor],
  );
  return (
    <Page title="Catalog">
      <form
        class="card toolbar"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setQ(draft.trim());
          pages.reset();
        }}
      >
        <Field label="Search solutions" name="q" type="search" maxLength={200} value={draft} onInput={setDraft} />
        <Select
          label="Sort by"
          name="sort"
          value={sort}
          onChange={(v) => {
            setSort(v as typeof sort);
            pages.reset();
          }}
          options={[
            { value: "popular", label: "Most popular" },
            { value: "rating", label: "Best rated" },
            { value: "newest", label: "Newest" },
            { value: "price", label: "Lowest price" },
          ]}
        />
        <Button type="submit" kind="primary">
          Search
        </Button>
      </form>
      <LoadState loaded={page} label="the catalog">
        {(data) => (
          <>
            <p role="status" class="muted">
              {(data.solutions ?? []).length === 0
                ? q
                  ? `No solution matches “${q}”.`
                  : "No solutions are published yet."
                : `${q ? `Solutions matching “${q}”` : "Solutions"}, page ${pages.number}`}
            </p>
            <ul class="catalog-grid">
              {(data.solutions ?? []).map((s) => (
                <li key={s.solution_id} class="card">
                  <h2 class="catalog-title">
                    <a href={`/catalog/${s.solution_id}`}>{s.name}</a>
                  </h2>
                  {s.partner_name && <p class="muted">by {s.partner_name}</p>}
                  <p>{s.description}</p>
                  <p class="muted">
                    {s.category && <>{s.category} · </>}
                    {s.rating?.average != null ? `Rated ${s.rating.average} of 5 (${s.rating.count} reviews)` : "Not rated yet"}
                  </p>
                  <p>
                    {Object.entries(s.prices_from ?? {}).length === 0
                      ? "Free tier"
                      : Object.entries(s.prices_from ?? {}).map(([currency, amount], i) => (
                          <span key={currency}>
                            {i === 0 ? "Paid plans from " : ", "}
                            <Money amount={amount} currency={currency} />
                          </span>
                        ))}
                  </p>
                </li>
              ))}
            </ul>
            <Pager pages={pages} next={data.next_cursor} label="Catalog pages" />
          </>
        )}
      </LoadState>
    </Page>
  );
}
