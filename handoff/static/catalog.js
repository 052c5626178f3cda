// Owner catalog page: products listed, edited in the side panel and saved whole through /api/catalog/*;
// a picture is uploaded first (the server checks and shrinks it), then saved with the product.
(function () {
  "use strict";
  const { $, el, toast, api, showHistory } = window.owner;
  const TEXT = ["name", "name_en", "unit", "unit_en", "region", "origin", "shelf_life", "shelf_life_en", "storage",
                "storage_en", "description", "description_en"];
  const NUMBERS = ["price", "stock", "weight_g", "shelf_life_days"];
  const FLAGS = ["vacuum_packing", "cold_chain"];
  const LISTS = ["tags", "aliases"];
  const CHOICES = ["recipients", "occasions"];
  // Shown with the field when the form stops a save (the browser's own wording is English on many machines).
  const REQUIRED = { name: t("请填写名称"), price: t("请填写价格（0 或以上的数字）"), stock: t("请填写库存（0 或以上的整数）"),
                     region: t("请填写产地"), origin: t("请填写发货省份"), weight_g: t("请填写重量（克）"),
                     shelf_life: t("请填写保质期"), storage: t("请填写保存方法") };
  const categoryName = (key) => ([...$("e-category").options].find((o) => o.value === key) || {}).textContent || key;
  let products = [];
  let current = null; // the product being edited as last loaded (all its fields), or null for a new one
  let image = ""; // the picture the product will be saved with

  const report = (err) => showError(err.message);
  function showError(message) {
    $("e-error").textContent = message;
    $("e-error").hidden = !message;
    if (message) toast(message);
  }

  function showList() {
    const words = $("f-q").value.trim().toLowerCase();
    const category = $("f-category").value;
    const shown = products.filter((p) => (!category || p.category === category) && (!words ||
      [p.name, p.name_en, ...p.tags, ...p.aliases].some((text) => text.toLowerCase().includes(words))));
    $("count").textContent = t("（{n}）", { n: shown.length });
    const body = $("products").querySelector("tbody");
    body.replaceChildren();
    for (const product of shown) {
      const row = el("tr", null, current && product.id === current.id ? "active" : "");
      row.dataset.product = product.id;
      const picture = el("td");
      if (product.image) { const img = el("img", null, "thumb"); img.src = product.image; img.alt = ""; picture.append(img); }
      const name = el("td");
      name.append(el("div", product.name), el("div", product.name_en, "muted"));
      row.append(picture, name, el("td", categoryName(product.category)), el("td", "¥" + product.price),
                 el("td", product.stock > 0 ? String(product.stock) : t("缺货"), product.stock > 0 ? "" : "out"),
                 el("td", t("第 {n} 版", { n: product.revision })));
      row.addEventListener("click", () => openProduct(product.id));
      body.append(row);
    }
  }

  async function loadProducts() {
    const data = await api("GET", "/api/catalog/products").catch((err) => toast(err.message));
    if (!data) return;
    products = data.products;
    showList();
  }

  const PICTURE_NOTE = $("e-picture-note").textContent;
  function showPicture(url) {
    image = url || "";
    $("e-picture").hidden = !image;
    if (image) $("e-picture").src = image; else $("e-picture").removeAttribute("src");
  }

  function fillEditor(product) {
    $("editor").hidden = false;
    for (const name of TEXT) $("e-" + name).value = product[name] || "";
    for (const name of NUMBERS) $("e-" + name).value = product[name] === null || product[name] === undefined ? "" : product[name];
    for (const name of FLAGS) $("e-" + name).checked = Boolean(product[name]);
    for (const name of LISTS) $("e-" + name).value = (product[name] || []).join(", ");
    for (const name of CHOICES) {
      for (const box of document.querySelectorAll('input[name="' + name + '"]')) box.checked = (product[name] || []).includes(box.value);
    }
    $("e-category").value = product.category || "tea";
    $("e-file").value = "";
    $("e-picture-note").textContent = PICTURE_NOTE;
    showPicture(product.image);
    showError("");
    $("e-title").textContent = current ? current.name : t("（新商品）");
    $("e-more").open = !current; // a new product needs its origin, shelf life and storage too
    for (const row of document.querySelectorAll("#products tbody tr")) row.classList.toggle("active", Boolean(current) && row.dataset.product === current.id);
    $("editor").scrollTop = 0;
    $("e-name").focus({ preventScroll: true });
    if (window.matchMedia("(max-width: 900px)").matches) $("editor").scrollIntoView({ behavior: "smooth" });
  }

  const FIELDS = (p) => [[t("名称"), p.name], [t("英文名"), p.name_en], [t("价格"), "¥" + p.price + (p.unit ? " / " + p.unit : "")],
                         [t("库存"), String(p.stock)], [t("图片"), p.image], [t("标签"), (p.tags || []).join(t("、"))],
                         [t("介绍"), p.description], [t("英文介绍"), p.description_en]];

  async function openProduct(id) {
    const data = await api("GET", "/api/catalog/products/" + encodeURIComponent(id)).catch((err) => toast(err.message));
    if (!data) return;
    current = data.product;
    fillEditor(current);
    showHistory($("history"), data.revisions, data.product, {
      fields: FIELDS,
      summary: (after) => [t("¥{price} · 库存 {stock} · {name}", { price: after.price, stock: after.stock, name: after.name })],
      restore: (revision) => api("POST", "/api/catalog/products/" + encodeURIComponent(id) + "/rollback", { revision })
        .then(() => { toast(t("已恢复到第 {n} 版，机器人立即使用", { n: revision })); openProduct(id); loadProducts(); })
        .catch((err) => toast(err.message)),
    });
  }

  // The form as the API takes it; null (with the field marked) when something required is missing.
  function readForm() {
    const product = Object.assign({}, current || {});
    delete product.id; delete product.revision; delete product.updated_at;
    for (const name of TEXT) product[name] = $("e-" + name).value.trim();
    for (const name of FLAGS) product[name] = $("e-" + name).checked;
    for (const name of LISTS) product[name] = $("e-" + name).value.split(/[,，、]/).map((t) => t.trim()).filter(Boolean);
    for (const name of CHOICES) product[name] = [...document.querySelectorAll('input[name="' + name + '"]:checked')].map((b) => b.value);
    product.category = $("e-category").value;
    product.image = image;
    for (const name of NUMBERS) {
      const raw = $("e-" + name).value.trim();
      product[name] = raw === "" ? null : Number(raw);
    }
    for (const [name, message] of Object.entries(REQUIRED)) {
      const value = product[name];
      const bad = value === null || value === "" || (NUMBERS.includes(name) && !(value >= 0)) ||
                  (name !== "price" && NUMBERS.includes(name) && !Number.isInteger(value));
      if (bad) {
        if ($("e-more").contains($("e-" + name))) $("e-more").open = true;
        $("e-" + name).focus();
        showError(message);
        return null;
      }
    }
    return product;
  }

  async function saveProduct(event) {
    event.preventDefault();
    const product = readForm();
    if (!product) return;
    const button = $("e-save");
    if (button.disabled) return;
    button.disabled = true;
    const saved = await (current ? api("PUT", "/api/catalog/products/" + encodeURIComponent(current.id), product)
                                 : api("POST", "/api/catalog/products", product)).catch(report)
      .finally(() => { button.disabled = false; });
    if (!saved) return;
    toast(t("已保存「{name}」，机器人立即按新的推荐和回答", { name: saved.product.name }));
    await loadProducts();
    openProduct(saved.product.id);
  }

  async function uploadPicture() {
    const file = $("e-file").files[0];
    if (!file) return;
    const form = new FormData();
    form.append("file", file);
    $("e-picture-note").textContent = t("上传中…");
    const data = await api("POST", "/api/catalog/pictures", form, true).catch(report);
    $("e-picture-note").textContent = data ? t("新图片已上传，保存后生效。") : PICTURE_NOTE;
    $("e-file").value = "";
    if (data) { showPicture(data.image); showError(""); }
  }

  $("filter").addEventListener("submit", (event) => { event.preventDefault(); showList(); });
  $("f-q").addEventListener("input", showList);
  $("f-category").addEventListener("change", showList);
  $("product-form").addEventListener("submit", saveProduct);
  $("e-file").addEventListener("change", uploadPicture);
  $("e-close").addEventListener("click", () => {
    $("editor").hidden = true;
    current = null;
    for (const row of document.querySelectorAll("#products tr.active")) row.classList.remove("active");
  });
  $("new-product").addEventListener("click", () => { current = null; fillEditor({ stock: 0 }); $("history").replaceChildren(); });
  loadProducts();
})();
