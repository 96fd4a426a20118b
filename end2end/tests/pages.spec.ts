import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test, type Page } from "@playwright/test";

/** The posts in content/posts, read straight from the files: slug, title, tags, draft flag. */
function postsOnDisk() {
  const dir = join(__dirname, "..", "..", "content", "posts");
  return readdirSync(dir)
    .filter((name) => name.endsWith(".md"))
    .map((name) => {
      const text = readFileSync(join(dir, name), "utf8");
      const front = text.split("\n---", 1)[0];
      const field = (key: string) => front.match(new RegExp(`^${key}:\\s*(.*)$`, "m"))?.[1]?.trim() ?? "";
      const tags = field("tags").replace(/^\[|\]$/g, "").split(",").map((t) => t.trim()).filter(Boolean);
      return { slug: name.replace(/\.md$/, ""), title: field("title"), tags, draft: field("draft") === "true" };
    });
}

const posts = postsOnDisk();
const published = posts.filter((post) => !post.draft);
const drafts = posts.filter((post) => post.draft);

/** Parses XML in the browser; fails on a parse error. Returns the text of every `selector` match. */
async function xmlTexts(page: Page, xml: string, selector: string, attribute?: string): Promise<string[]> {
  return page.evaluate(
    ({ xml, selector, attribute }) => {
      const doc = new DOMParser().parseFromString(xml, "application/xml");
      const error = doc.querySelector("parsererror");
      if (error) throw new Error(`not well-formed XML: ${error.textContent}`);
      return [...doc.querySelectorAll(selector)].map((node) =>
        attribute ? node.getAttribute(attribute) ?? "" : node.textContent ?? "",
      );
    },
    { xml, selector, attribute },
  );
}

/** Checks the head tags every page must have. */
async function expectHead(page: Page, path: string, title: RegExp) {
  await expect(page).toHaveTitle(title);
  await expect(page.locator('meta[name="description"]')).toHaveAttribute("content", /\S/);
  await expect(page.locator('link[rel="canonical"]')).toHaveAttribute("href", new RegExp(`^https?://[^/]+${path}$`));
  for (const property of ["og:title", "og:description", "og:url", "og:type"]) {
    await expect(page.locator(`meta[property="${property}"]`)).toHaveAttribute("content", /\S/);
  }
  await expect(page.locator('meta[name="twitter:card"]')).toHaveAttribute("content", "summary");
}

test("the published posts on disk are the ones the tests expect", () => {
  expect(published.length).toBeGreaterThanOrEqual(3);
  expect(drafts.length).toBeGreaterThanOrEqual(1);
});

test.describe("with JavaScript off", () => {
  test.use({ javaScriptEnabled: false });

  test("every page type renders on the server and links to the next", async ({ page }) => {
    await page.goto("/");
    await expect(page.locator("h1")).toHaveText("Ada Quill");
    await expect(page.locator("noscript")).toHaveCount(1);

    await page.getByRole("navigation", { name: "Site" }).getByRole("link", { name: "About" }).click();
    await expect(page).toHaveURL(/\/about$/);
    await expect(page.locator("h1")).toHaveText("About Ada Quill");
    await expect(page.getByRole("heading", { name: "Experience" })).toBeVisible();
    await expectHead(page, "/about", /^About and resume — Ada Quill$/);

    await page.getByRole("navigation", { name: "Site" }).getByRole("link", { name: "Projects" }).click();
    await expect(page.locator("h1")).toHaveText("Projects");
    await expect(page.locator(".project-card")).not.toHaveCount(0);
    await expectHead(page, "/projects", /^Projects — Ada Quill$/);

    await page.getByRole("navigation", { name: "Site" }).getByRole("link", { name: "Blog" }).click();
    await expect(page.locator("h1")).toHaveText("Blog");
    await expect(page.locator(".post-card")).toHaveCount(published.length);
    await expectHead(page, "/blog", /^Blog — Ada Quill$/);

    const first = page.locator(".post-card .post-title a").first();
    const title = (await first.textContent()) ?? "";
    await first.click();
    await expect(page.locator("article.post h1")).toHaveText(title);
    await expect(page).toHaveURL(/\/blog\/[a-z0-9-]+$/);

    await page.locator("article.post a.tag").first().click();
    await expect(page).toHaveURL(/\/tags\/[a-z0-9-]+$/);
    await expect(page.locator("h1")).toHaveText(/^Posts tagged #/);

    await page.getByRole("navigation", { name: "Site" }).getByRole("link", { name: "Terminal" }).click();
    await expect(page.locator("h1")).toHaveText("Your own Linux shell");
    await expect(page.getByText("No network.")).toBeVisible();
    await expect(page.getByText("60 minutes at most.")).toBeVisible();
    await expect(page.getByText("Files vanish.")).toBeVisible();
    await expectHead(page, "/terminal", /^Your own Linux shell — Ada Quill$/);

    await page.locator("a.brand").click();
    await expect(page).toHaveURL(/\/$/);
    await expectHead(page, "/", /^Ada Quill — systems engineer$/);
  });

  test("a post shows its title, author, date, reading time, tags and more articles", async ({ page }) => {
    const post = published.find((p) => p.slug === "how-the-sandboxes-work") ?? published[0];
    await page.goto(`/blog/${post.slug}`);
    await expect(page.locator("article.post h1")).toHaveText(post.title);
    await expect(page.locator(".author")).toHaveText("Ada Quill");
    await expect(page.locator("article.post time")).toHaveAttribute("datetime", /^\d{4}-\d{2}-\d{2}$/);
    await expect(page.getByTestId("reading-time").first()).toHaveText(/^\d+ min read$/);
    await expect(page.locator("article.post .tags a")).toHaveText(post.tags.map((tag) => `#${tag}`));
    await expect(page.getByRole("link", { name: "← All posts" })).toHaveAttribute("href", "/blog");
    await expect(page.getByRole("heading", { name: "More articles" })).toBeVisible();
    await expect(page.locator(".more .post-card")).toHaveCount(Math.min(3, published.length - 1));
    await expect(page.locator("pre.code .hl-k").first()).toBeVisible();
    await expectHead(page, `/blog/${post.slug}`, new RegExp(`^${post.title} — Ada Quill$`));
    await expect(page.locator('meta[property="og:type"]')).toHaveAttribute("content", "article");
    // Reading pages load no WASM and no module scripts.
    await expect(page.locator('script[type="module"], link[rel="modulepreload"]')).toHaveCount(0);
  });

  test("the tag filter lists exactly the posts with that tag", async ({ page }) => {
    const tags = [...new Set(published.flatMap((post) => post.tags))];
    for (const tag of tags) {
      const expected = published.filter((post) => post.tags.includes(tag)).map((post) => post.title).sort();
      await page.goto(`/blog?tag=${tag}`);
      await expect(page.locator(".tag-filter a[aria-current=page]")).toHaveText(new RegExp(`^#${tag}`));
      expect((await page.locator(".post-card .post-title").allTextContents()).sort()).toEqual(expected);
      await expect(page.locator('link[rel="canonical"]')).toHaveAttribute("href", new RegExp(`/tags/${tag}$`));

      await page.goto(`/tags/${tag}`);
      await expect(page.locator("h1")).toHaveText(`Posts tagged #${tag}`);
      expect((await page.locator(".post-card .post-title").allTextContents()).sort()).toEqual(expected);
    }
    await page.goto("/blog");
    await page.locator(".tag-filter a", { hasText: `#${tags[0]}` }).click();
    await expect(page).toHaveURL(new RegExp(`\\?tag=${tags[0]}$`));
  });
});

test("unknown slugs, tags, drafts and paths answer 404 with the 404 page", async ({ request }) => {
  const paths = ["/blog/no-such-post", "/tags/no-such-tag", "/blog?tag=no-such-tag", "/no/such/page"];
  for (const draft of drafts) paths.push(`/blog/${draft.slug}`);
  for (const path of paths) {
    const response = await request.get(path);
    expect(response.status(), path).toBe(404);
    expect(await response.text(), path).toContain("Page not found");
  }
});

test("drafts appear nowhere", async ({ request }) => {
  for (const path of ["/", "/blog", "/feed.xml", "/sitemap.xml"]) {
    const body = await (await request.get(path)).text();
    for (const draft of drafts) {
      expect(body, `${path} mentions draft ${draft.slug}`).not.toContain(draft.slug);
      expect(body, `${path} mentions draft ${draft.slug}`).not.toContain(draft.title);
    }
  }
});

test("the Atom feed parses and lists every published post", async ({ request, page }) => {
  const response = await request.get("/feed.xml");
  expect(response.status()).toBe(200);
  expect(response.headers()["content-type"]).toContain("application/atom+xml");
  const xml = await response.text();
  const links = await xmlTexts(page, xml, "entry > link", "href");
  expect(links.map((link) => link.replace(/^https?:\/\/[^/]+/, "")).sort()).toEqual(
    published.map((post) => `/blog/${post.slug}`).sort(),
  );
  const titles = await xmlTexts(page, xml, "entry > title");
  expect(titles.sort()).toEqual(published.map((post) => post.title).sort());
});

test("the sitemap parses and lists every page and published post; robots.txt points to it", async ({ request, page }) => {
  const xml = await (await request.get("/sitemap.xml")).text();
  const paths = (await xmlTexts(page, xml, "url > loc")).map((loc) => loc.replace(/^https?:\/\/[^/]+/, ""));
  for (const path of ["/", "/about", "/projects", "/blog", "/terminal"]) expect(paths).toContain(path);
  const postPaths = paths.filter((path) => path.startsWith("/blog/"));
  expect(postPaths.sort()).toEqual(published.map((post) => `/blog/${post.slug}`).sort());
  for (const path of paths) expect((await request.get(path)).status(), path).toBe(200);

  const robots = await (await request.get("/robots.txt")).text();
  expect(robots).toMatch(/^Sitemap: https?:\/\/\S+\/sitemap\.xml$/m);
});

test("with JavaScript on, the home page starts its shell, links navigate and the theme toggles", async ({ page }) => {
  await page.goto("/");
  // The terminal island hydrates when the visitor reaches for the shell.
  await page.getByRole("link", { name: "Try the shell" }).click();
  await expect(page.getByTestId("terminal-status")).toHaveAttribute("data-state", "ready", { timeout: 60_000 });
  await page.getByRole("navigation", { name: "Site" }).getByRole("link", { name: "Blog" }).click();
  await expect(page.locator("h1")).toHaveText("Blog");
  await expect(page).toHaveTitle("Blog — Ada Quill");
  await page.locator(".post-card .post-title a").first().click();
  await expect(page.locator("article.post h1")).toBeVisible();
  await expect(page.locator(".author")).toHaveText("Ada Quill");

  const before = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  await page.locator("[data-theme-toggle]").click();
  await expect.poll(() => page.evaluate(() => getComputedStyle(document.body).backgroundColor)).not.toBe(before);
  await page.reload();
  await expect.poll(() => page.evaluate(() => getComputedStyle(document.body).backgroundColor)).not.toBe(before);
  await page.close();
});

test("every page comes styled in itself: no request for the site's stylesheet", async ({ page }) => {
  const asked: string[] = [];
  page.on("request", (request) => asked.push(new URL(request.url()).pathname));
  for (const path of ["/about", "/blog", "/"]) {
    await page.goto(path);
    // Rules of style/main.css, applied: the header is a flex row, the nav's list has no bullets.
    await expect(page.locator(".site-header")).toHaveCSS("display", "flex");
    await expect(page.locator(".site-header ul")).toHaveCSS("list-style-type", "none");
  }
  expect(asked.filter((path) => path.endsWith(".css"))).toEqual([]);
  await page.close();
});
