//! Pass one of a write: the request body parsed into a tree of rows and nested rows, each
//! checked without the database.

use std::borrow::Cow;

use dynex_auth::Action;
use dynex_query::{Dialect, Value, decode_row};
use dynex_schema::{Entity, Relation};
use dynex_validate::{Intent, RowCheck, RowError, SplitRow, check_row, check_value, split_row};
use serde_json::{Map, Value as Json};

use super::{Ctx, Method};
use crate::error::CoreError;

/// A row as saved or found: its wire object and the extra key columns read with it.
#[derive(Debug, Clone)]
pub(super) struct Saved {
    pub(super) object: Map<String, Json>,
    pub(super) extras: Vec<Json>,
    /// The row as the database returned it, when decoding could wait until after the commit
    /// (`object` and `extras` are then empty).
    pub(super) raw: Option<String>,
}

impl Saved {
    pub(super) fn decoded(object: Map<String, Json>, extras: Vec<Json>) -> Saved {
        Saved {
            object,
            extras,
            raw: None,
        }
    }
}

/// What an attempt decided and did for one row; cleared before each attempt.
#[derive(Debug, Default)]
pub(super) struct State<'a> {
    pub(super) failed: bool,
    pub(super) intent: Option<Intent>,
    pub(super) parent: Vec<(String, Value)>,
    /// The columns to write: their names borrow the entity's (a hook may name others).
    pub(super) columns: Vec<(Cow<'a, str>, Value)>,
    pub(super) existing: Option<Saved>,
    pub(super) saved: Option<Saved>,
    /// The identifier of a row created where `INSERT` returns nothing (MariaDB).
    pub(super) created_id: Option<Value>,
}

/// One row of the payload tree.
pub(super) struct Node<'a> {
    pub(super) entity: &'a Entity,
    pub(super) root: usize,
    pub(super) path: String,
    pub(super) split: SplitRow<'a>,
    pub(super) values: Vec<(usize, Value)>,
    pub(super) lookup: Option<Value>,
    pub(super) by_id: bool,
    pub(super) from_parent: Vec<usize>,
    pub(super) branches: Vec<Branch<'a>>,
    pub(super) state: State<'a>,
}

/// The nested rows of one relation of a row.
pub(super) struct Branch<'a> {
    pub(super) relation: &'a Relation,
    pub(super) entity: &'a Entity,
    pub(super) nodes: Vec<Node<'a>>,
}

impl Node<'_> {
    pub(super) fn reset(&mut self) {
        self.state = State::default();
        for b in &mut self.branches {
            for n in &mut b.nodes {
                n.reset();
            }
        }
    }

    /// The row as the API returns it: saved fields, then the saved rows of each relation sent.
    pub(super) fn into_response(self) -> Result<Json, CoreError> {
        let mut object = match self.state.saved {
            Some(Saved { raw: Some(raw), .. }) => {
                decode_row(self.entity, &raw).map_err(CoreError::Corrupt)?.0
            }
            Some(saved) => saved.object,
            None => Map::new(),
        };
        for b in self.branches {
            let rows = b
                .nodes
                .into_iter()
                .filter(|n| n.state.saved.is_some())
                .map(Node::into_response)
                .collect::<Result<_, _>>()?;
            object.insert(b.relation.name.clone(), Json::Array(rows));
        }
        Ok(Json::Object(object))
    }
}

/// Where a row sits in the payload.
pub(super) struct Place {
    /// Index of its root row.
    pub(super) root: usize,
    /// Its error path.
    pub(super) path: String,
    /// The identifier from the URL (`/{alias}/{id}` routes).
    pub(super) url_id: Option<Value>,
    /// Fields filled in from the parent row.
    pub(super) from_parent: Vec<usize>,
}

/// What pass one checks in a row written with `method` to a database of `dialect`: `by_id`
/// when the URL names it (`given` then counts as sent), `from_parent` the fields its parent row
/// fills in.
pub(super) fn row_check<'c>(
    dialect: Dialect,
    method: Method,
    by_id: bool,
    from_parent: &'c [usize],
    given: &'c [usize],
) -> RowCheck<'c> {
    RowCheck {
        intent: match method {
            Method::Create => Some(Intent::Create),
            Method::Update => Some(Intent::Update),
            Method::Upsert => None,
        },
        require: method != Method::Update,
        identifier_is_key: !by_id,
        from_parent,
        given: if by_id { given } else { &[] },
        decimals_as_doubles: dialect == Dialect::Sqlite,
    }
}

/// Pass one: the payload tree, checked without the database.
pub(super) fn build<'a>(
    ctx: &Ctx<'a>,
    entity: &'a Entity,
    row: &'a Map<String, Json>,
    place: Place,
    errors: &mut Vec<RowError>,
) -> Result<Node<'a>, CoreError> {
    let Place {
        root,
        path,
        url_id,
        from_parent,
    } = place;
    let split = split_row(entity, row, &path, errors);
    let id_index = entity.identifier_index();
    let by_id = url_id.is_some();
    let given_id = [id_index];
    let lookup = match (ctx.method, url_id) {
        (Method::Create, _) => None,
        (_, Some(id)) => Some(id),
        (method, None) => match split.get(id_index).filter(|v| !v.is_null()) {
            // A mistyped identifier is reported by the type check below.
            Some(v) => check_value(entity.identifier(), v).ok(),
            None => {
                if method == Method::Update {
                    errors.push(RowError::MissingIdentifier { path: path.clone() });
                }
                None
            }
        },
    };
    let check = row_check(ctx.dialect, ctx.method, by_id, &from_parent, &given_id);
    let values = check_row(entity, &split, &path, &check, errors);
    let mut branches = Vec::new();
    for &(relation, items) in &split.relations {
        let Some(child) = ctx.catalog.entity(relation.child_alias()) else {
            errors.push(RowError::UnknownRelation {
                relation: relation.name.clone(),
            });
            continue;
        };
        crate::engine::access::require(ctx.principal, Action::Write, child.alias())?;
        let child_from_parent = relation.fields_from_parent(child);
        let mut nodes = Vec::with_capacity(items.len());
        for (j, item) in items.iter().enumerate() {
            let Some(object) = item.as_object() else {
                continue;
            };
            let place = Place {
                root,
                path: format!("{path}.{}[{j}]", child.alias()),
                url_id: None,
                from_parent: child_from_parent.clone(),
            };
            nodes.push(build(ctx, child, object, place, errors)?);
        }
        branches.push(Branch {
            relation,
            entity: child,
            nodes,
        });
    }
    Ok(Node {
        entity,
        root,
        path,
        split,
        values,
        lookup,
        by_id,
        from_parent,
        branches,
        state: State::default(),
    })
}

/// Parses the body into root objects: `{"data": [objects]}`, or `{"data": {object}}` by id.
pub(super) fn roots(body: &[u8], by_id: bool) -> Result<Vec<Map<String, Json>>, CoreError> {
    let invalid = || CoreError::Rows(vec![RowError::InvalidFormat]);
    // One object naming a member twice would silently be its last value.
    let mut body = dynex_schema::json::from_slice(body).map_err(|e| match e {
        dynex_schema::json::StrictJsonError::DuplicateMember(member) => {
            CoreError::Rows(vec![RowError::DuplicateMember { member }])
        }
        dynex_schema::json::StrictJsonError::Syntax(_) => invalid(),
    })?;
    let data = body
        .as_object_mut()
        .and_then(|o| o.remove("data"))
        .ok_or_else(invalid)?;
    match (data, by_id) {
        (Json::Object(o), true) => Ok(vec![o]),
        (Json::Array(items), false) if !items.is_empty() => items
            .into_iter()
            .map(|i| match i {
                Json::Object(o) => Ok(o),
                _ => Err(invalid()),
            })
            .collect(),
        _ => Err(invalid()),
    }
}
