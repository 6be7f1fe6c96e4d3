//! The lab's etcd: a single member on a lab address answers puts and gets.

use interop::{lab_available, Etcd, Lab, Tool};

#[test]
fn single_member_etcd_stores_and_returns_values() {
    if !lab_available("etcd", &[Tool::Etcd]) {
        return;
    }
    let lab = Lab::new().expect("lab");
    let host = lab.host("etcd").expect("host");
    let etcd = Etcd::start(&lab, &host).expect("etcd starts");
    assert_eq!(etcd.endpoint(), format!("http://{}:2379", host.ipv4));
    etcd.put("/starling/v1/config", r#"{"asn":64512}"#)
        .expect("put");
    assert_eq!(
        etcd.get("/starling/v1/config").expect("get").as_deref(),
        Some(r#"{"asn":64512}"#)
    );
    etcd.delete("/starling/v1/config").expect("delete");
    assert_eq!(etcd.get("/starling/v1/config").expect("get"), None);
}
