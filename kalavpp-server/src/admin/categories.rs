//! `/admin/categories`: the category tree with forms to create, rename, move and delete, each
//! through the catalog service, so the refusals (a category with products or children, a move
//! under its own descendant, a taken slug, a bad name) equal the REST API's and show as the
//! panel's error page.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use kalavpp_core::Error;
use kalavpp_core::domain::{CategoryId, Page};
use kalavpp_core::services::{CategoryInput, CategoryView};

use super::{Chrome, Pager, PanelAdmin, PanelForm, PanelResult, done, field, outcome, page_request, query_map, render};
use crate::app::AppState;

/// Rows of the tree per page.
const PER_PAGE: u32 = 50;
/// Deeper levels are indented as much as this one.
const MAX_INDENT: usize = 6;

/// A category in tree order.
struct Node {
    view: CategoryView,
    depth: usize,
    /// Names from the top down to this one, e.g. `Paintings › Oil`.
    path: String,
}

/// Depth-first order from the top-level categories (siblings by name, as the service sorts them).
/// A category whose parent is missing counts as top level, so nothing is ever hidden.
fn tree(all: Vec<CategoryView>) -> Vec<Node> {
    let ids: Vec<CategoryId> = all.iter().map(|c| c.id).collect();
    let mut children: HashMap<Option<CategoryId>, Vec<CategoryView>> = HashMap::new();
    for c in all {
        let parent = c.parent_id.filter(|p| ids.contains(p));
        children.entry(parent).or_default().push(c);
    }
    let mut out = Vec::with_capacity(ids.len());
    // (category, depth, parent path), popped in order: push siblings reversed.
    let mut stack: Vec<(CategoryView, usize, String)> = children
        .remove(&None)
        .unwrap_or_default()
        .into_iter()
        .rev()
        .map(|c| (c, 0, String::new()))
        .collect();
    while let Some((view, depth, above)) = stack.pop() {
        let path = if above.is_empty() {
            view.name.clone()
        } else {
            format!("{above} › {}", view.name)
        };
        for child in children.remove(&Some(view.id)).unwrap_or_default().into_iter().rev() {
            stack.push((child, depth + 1, path.clone()));
        }
        out.push(Node { view, depth, path });
    }
    // Cycles cannot be stored (the service refuses them), but never drop a row if one were.
    for (_, rest) in children {
        out.extend(rest.into_iter().map(|view| Node {
            path: view.name.clone(),
            view,
            depth: 0,
        }));
    }
    out
}

/// Every id below `id` in `nodes` (tree order: the descendants follow it, deeper than it).
fn below(nodes: &[Node], id: CategoryId) -> Vec<CategoryId> {
    let Some(start) = nodes.iter().position(|n| n.view.id == id) else {
        return vec![];
    };
    let depth = nodes[start].depth;
    nodes[start + 1..]
        .iter()
        .take_while(|n| n.depth > depth)
        .map(|n| n.view.id)
        .collect()
}

/// A choice in a parent `<select>`.
struct Choice {
    id: String,
    label: String,
    selected: bool,
}

struct Row {
    id: String,
    name: String,
    slug: String,
    path: String,
    indent: usize,
    products: i64,
    /// Where it may move: every category but itself and its descendants.
    parents: Vec<Choice>,
    top_level: bool,
}

#[derive(Template)]
#[template(path = "admin/categories.html")]
struct CategoriesPage {
    chrome: Chrome,
    q: String,
    all: Vec<Choice>,
    rows: Vec<Row>,
    total: usize,
    pager: Pager,
}

/// `GET /admin/categories?q=&page=`: the tree (children indented under their parent), or the
/// categories whose name contains `q` with their path.
pub async fn page(State(state): State<AppState>, admin: PanelAdmin, RawQuery(raw): RawQuery) -> PanelResult {
    let query = query_map(raw.as_deref())?;
    let q = field(&query, "q").map(str::to_owned).unwrap_or_default();
    let request = page_request(&query)?;
    let request = kalavpp_core::domain::PageRequest::new(request.page(), PER_PAGE);
    let nodes = tree(state.market.catalog().categories().await?);
    let total = nodes.len();
    let needle = q.to_lowercase();
    let matching: Vec<&Node> = nodes
        .iter()
        .filter(|n| needle.is_empty() || n.view.name.to_lowercase().contains(&needle))
        .collect();
    let count = i64::try_from(matching.len()).unwrap_or(i64::MAX);
    let offset = usize::try_from(request.offset()).unwrap_or(usize::MAX);
    let rows = matching
        .iter()
        .skip(offset)
        .take(PER_PAGE as usize)
        .map(|n| {
            let excluded = below(&nodes, n.view.id);
            Row {
                id: n.view.id.to_string(),
                name: n.view.name.clone(),
                slug: n.view.slug.clone(),
                path: n.path.clone(),
                indent: if needle.is_empty() { n.depth.min(MAX_INDENT) } else { 0 },
                products: n.view.product_count,
                parents: nodes
                    .iter()
                    .filter(|o| o.view.id != n.view.id && !excluded.contains(&o.view.id))
                    .map(|o| Choice {
                        id: o.view.id.to_string(),
                        label: o.path.clone(),
                        selected: Some(o.view.id) == n.view.parent_id,
                    })
                    .collect(),
                top_level: n.view.parent_id.is_none(),
            }
        })
        .collect();
    let pager = Pager::new("/admin/categories", &[("q", &q)], &Page::new(Vec::<()>::new(), request, count));
    render(&CategoriesPage {
        chrome: Chrome {
            name: admin.name.clone(),
            csrf: admin.csrf.clone(),
            done: outcome(&query),
            section: "categories",
        },
        q,
        all: nodes
            .iter()
            .map(|n| Choice {
                id: n.view.id.to_string(),
                label: n.path.clone(),
                selected: false,
            })
            .collect(),
        rows,
        total,
        pager,
    })
}

fn category_id(id: &str) -> Result<CategoryId, Error> {
    CategoryId::parse(id).ok_or_else(|| Error::not_found("category_not_found", "category not found"))
}

/// The `parent` field: an id, or blank for top level.
fn parent(form: &PanelForm) -> Option<String> {
    field(&form.fields, "parent").map(str::to_owned)
}

/// `POST /admin/categories` (`name`, optional `parent`).
pub async fn create(State(state): State<AppState>, form: PanelForm) -> PanelResult {
    let input = CategoryInput {
        name: Some(form.fields.get("name").cloned().unwrap_or_default()),
        slug: None,
        parent: Some(parent(&form)),
    };
    state.market.catalog().create_category(&form.admin.actor, input).await?;
    Ok(done("/admin/categories", "category created"))
}

/// `POST /admin/categories/{id}/{rename|move|delete}` (`name` to rename, `parent` to move:
/// an id, or blank for top level).
pub async fn change(State(state): State<AppState>, Path((id, action)): Path<(String, String)>, form: PanelForm) -> PanelResult {
    let id = category_id(&id)?;
    let catalog = state.market.catalog();
    let actor = &form.admin.actor;
    let outcome = match action.as_str() {
        "rename" => {
            let input = CategoryInput {
                name: Some(form.fields.get("name").cloned().unwrap_or_default()),
                ..CategoryInput::default()
            };
            catalog.update_category(actor, id, input).await.map(|_| "category renamed")
        }
        "move" => {
            let input = CategoryInput {
                parent: Some(parent(&form)),
                ..CategoryInput::default()
            };
            catalog.update_category(actor, id, input).await.map(|_| "category moved")
        }
        "delete" => catalog.delete_category(actor, id).await.map(|()| "category deleted"),
        _ => Err(Error::not_found("not_found", "no such action")),
    }?;
    Ok(done("/admin/categories", outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(name: &str, id: CategoryId, parent: Option<CategoryId>) -> CategoryView {
        CategoryView {
            id,
            slug: name.to_lowercase(),
            name: name.to_owned(),
            parent_id: parent,
            product_count: 0,
        }
    }

    #[test]
    fn children_follow_their_parent_deeper_and_descendants_are_found() {
        let (a, b, c, d) = (CategoryId::new(), CategoryId::new(), CategoryId::new(), CategoryId::new());
        let orphan = CategoryId::new();
        let nodes = tree(vec![
            view("Digital", a, None),
            view("Lost", orphan, Some(CategoryId::new())),
            view("Oil", b, Some(c)),
            view("Paintings", c, None),
            view("Small", d, Some(b)),
        ]);
        let order: Vec<(&str, usize)> = nodes.iter().map(|n| (n.view.name.as_str(), n.depth)).collect();
        assert_eq!(order, vec![("Digital", 0), ("Lost", 0), ("Paintings", 0), ("Oil", 1), ("Small", 2)]);
        assert_eq!(nodes[4].path, "Paintings › Oil › Small");
        assert_eq!(below(&nodes, c), vec![b, d]);
        assert!(below(&nodes, a).is_empty());
    }
}
