//! The seeded demo data: a Turkish manufacturer's Katana account and its Luca tenant.
//!
//! Everything here depends only on the seed and the sizes: timestamps fall in the 120
//! days before [`BASE`], never on the wall clock, so two sandboxes with the same options
//! hold identical data. The deliberately bad records are listed in `docs/sandbox.md`.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rust_decimal::Decimal;

use super::SandboxOptions;
use super::ledger::{Cari, DocLine, Document, LucaBranch, LucaData, Origin, StockCard, Warehouse};
use super::model::{
    Address, InventoryLevel, KatanaData, LocationAddress, NewOrderRow, NewSalesOrder, Quantity,
    SalesOrderStatus, TaxRate, plus_days,
};

/// The seeded data's "now": every seeded record is dated in the 120 days before it.
pub const BASE: &str = "2026-11-01T00:00:00Z";

const DAY_MS: i64 = 86_400_000;
const WINDOW_DAYS: i64 = 120;

/// Tax rate ids (Katana rates are percentages).
pub const TAX_20: i64 = 301;
pub const TAX_10: i64 = 302;
pub const TAX_1: i64 = 303;

/// Ids the bad records use that match nothing.
pub const UNKNOWN_VARIANT_ID: i64 = 9_999_999;
pub const UNKNOWN_TAX_RATE_ID: i64 = 7;

const COMPANY_WORDS: &[&str] = &[
    "Yıldız",
    "Anadolu",
    "Ege",
    "Marmara",
    "Karadeniz",
    "Akdeniz",
    "Başkent",
    "Doğu",
    "Kuzey",
    "Güney",
    "Özgür",
    "Şahin",
    "Kartal",
    "Çınar",
    "Ulu",
    "Demirtaş",
    "Gökçe",
    "Aydın",
    "Kaya",
    "Öztürk",
];
const SECTORS: &[&str] = &[
    "Makine",
    "Metal",
    "Yapı Market",
    "Mobilya",
    "İnşaat",
    "Otomotiv",
    "Endüstriyel Ürünler",
    "Tarım Makinaları",
    "Hırdavat",
    "Depolama Sistemleri",
];
const COMPANY_SUFFIXES: &[&str] = &["San. ve Tic. A.Ş.", "Ltd. Şti.", "A.Ş.", "Tic. Ltd. Şti."];
const FIRST_NAMES: &[&str] = &[
    "Ayşe", "Mehmet", "Fatma", "Mustafa", "Emine", "Ahmet", "Hatice", "Ali", "Zeynep", "Hüseyin",
    "Elif", "İbrahim", "Özlem", "Çağlar", "Şule", "Gökhan", "Ümit", "Ceren", "Burak", "Dilek",
];
const LAST_NAMES: &[&str] = &[
    "Yılmaz",
    "Kaya",
    "Demir",
    "Şahin",
    "Çelik",
    "Yıldız",
    "Yıldırım",
    "Öztürk",
    "Aydın",
    "Özdemir",
    "Arslan",
    "Doğan",
    "Kılıç",
    "Aslan",
    "Çetin",
    "Kara",
    "Koç",
    "Kurt",
    "Özkan",
    "Şimşek",
];
/// (city, district, postcode)
const CITIES: &[(&str, &str, &str)] = &[
    ("İstanbul", "Kadıköy", "34710"),
    ("Ankara", "Çankaya", "06690"),
    ("İzmir", "Bornova", "35040"),
    ("Bursa", "Nilüfer", "16110"),
    ("Kocaeli", "Gebze", "41400"),
    ("Konya", "Selçuklu", "42250"),
    ("Antalya", "Muratpaşa", "07100"),
    ("Kayseri", "Melikgazi", "38030"),
    ("Eskişehir", "Tepebaşı", "26010"),
    ("Gaziantep", "Şahinbey", "27010"),
    ("Diyarbakır", "Kayapınar", "21070"),
    ("Trabzon", "Ortahisar", "61030"),
    ("Samsun", "İlkadım", "55030"),
    ("Denizli", "Pamukkale", "20160"),
    ("Manisa", "Yunusemre", "45030"),
    ("Şanlıurfa", "Haliliye", "63050"),
    ("Muğla", "Bodrum", "48400"),
    ("Çanakkale", "Merkez", "17100"),
    ("Ağrı", "Doğubayazıt", "04400"),
    ("Iğdır", "Merkez", "76000"),
];
const STREETS: &[&str] = &[
    "Atatürk Cad.",
    "Cumhuriyet Mah. Gül Sok.",
    "İstiklal Cad.",
    "Gazi Bulvarı",
    "Fevzi Çakmak Cad.",
    "Organize Sanayi Bölgesi 3. Cad.",
    "Şehitler Sok.",
    "Menderes Cad.",
    "Ihlamur Sok.",
    "Çiçek Sok.",
];
const SUPPLIER_SECTORS: &[&str] = &[
    "Çelik Hammadde",
    "Boya Kimya",
    "Ambalaj",
    "Vida Cıvata",
    "Lojistik",
    "Elektrik Malzemeleri",
    "Döküm",
    "Plastik Enjeksiyon",
];
/// (product name, uom)
const PRODUCT_NAMES: &[(&str, &str)] = &[
    ("Çelik Raf", "pcs"),
    ("Döküm Kapak", "pcs"),
    ("Alüminyum Profil", "m"),
    ("Paslanmaz Tezgâh", "pcs"),
    ("Galvaniz Boru", "m"),
    ("Menteşe Takımı", "pcs"),
    ("Dişli Çark", "pcs"),
    ("Kaynak Teli", "kg"),
    ("Hidrolik Piston", "pcs"),
    ("Conta Seti", "pcs"),
    ("Rulman Yatağı", "pcs"),
    ("Kayış Kasnak", "pcs"),
    ("Cıvata Takımı", "pcs"),
    ("Sac Dolap", "pcs"),
    ("Çekmeceli Dolap", "pcs"),
    ("İş Tezgâhı", "pcs"),
    ("Yangın Dolabı", "pcs"),
    ("Kablo Kanalı", "m"),
    ("Ağır Yük Rafı", "pcs"),
    ("Palet Kafesi", "pcs"),
    ("İstif Kutusu", "pcs"),
    ("Merdiven Basamağı", "pcs"),
    ("Döner Tabla", "pcs"),
    ("Şase Bağlantısı", "pcs"),
    ("Gövde Flanşı", "pcs"),
    ("Zincir Dişlisi", "pcs"),
    ("Örgü Tel", "kg"),
    ("Ölçü Cetveli", "pcs"),
    ("Ünite Braketi", "pcs"),
    ("Işıklı Pano", "pcs"),
];
const SERIES: &[&str] = &["Standart", "Pro", "Ağır Hizmet", "Kompakt", "Endüstriyel"];
const CATEGORIES: &[&str] = &[
    "Raf Sistemleri",
    "Metal Parçalar",
    "Bağlantı Elemanları",
    "Dolaplar",
    "Yedek Parça",
];
/// (colour, SKU abbreviation)
const COLOURS: &[(&str, &str)] = &[
    ("Mavi", "MAV"),
    ("Kırmızı", "KIR"),
    ("Gri", "GRI"),
    ("Siyah", "SYH"),
    ("Beyaz", "BYZ"),
    ("Yeşil", "YSL"),
    ("Sarı", "SRI"),
];
const SIZES: &[&str] = &["80 cm", "100 cm", "120 cm", "150 cm", "200 cm"];

/// The names of the two Luca branches the demo login can choose from: the main one (id
/// `luca_branch_id`, which holds the seeded data) and a second, nearly empty one.
pub const BRANCH_NAMES: [&str; 2] = ["Demo Üretim A.Ş. - Merkez", "Demo Üretim A.Ş. - Şube 2"];

struct Gen {
    rng: Xoshiro256PlusPlus,
    base_ms: i64,
}

impl Gen {
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.random_range(0..items.len())]
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.rng.random_range(0..10u8)))
            .collect()
    }

    /// A time `days_ago` (fractional, from a range) before the base.
    fn time_between(&mut self, from_days_ago: i64, to_days_ago: i64) -> Timestamp {
        let lo = self.base_ms - from_days_ago * DAY_MS;
        let hi = self.base_ms - to_days_ago * DAY_MS;
        ts(self.rng.random_range(lo..hi.max(lo + 1)))
    }

    /// A time after `t`, by up to `max_days`, never after the base.
    fn later(&mut self, t: Timestamp, max_days: i64) -> Timestamp {
        let start = t.as_millisecond();
        let end = (start + max_days * DAY_MS).min(self.base_ms);
        if end <= start {
            return t;
        }
        ts(self.rng.random_range(start..=end))
    }

    /// An amount with two decimals, in [lo, hi) whole units.
    fn amount(&mut self, lo: i64, hi: i64) -> Decimal {
        Decimal::new(self.rng.random_range(lo * 100..hi * 100), 2)
    }

    fn phone(&mut self) -> String {
        format!(
            "+90 5{} {} {} {}",
            self.digits(2),
            self.digits(3),
            self.digits(2),
            self.digits(2)
        )
    }

    /// A 10-digit VKN with a valid check digit.
    fn vkn(&mut self) -> String {
        let mut d: Vec<u32> = (0..9).map(|_| self.rng.random_range(0..10)).collect();
        d[0] = self.rng.random_range(1..10);
        let mut sum = 0;
        for (i, digit) in d.iter().enumerate() {
            let tmp = (digit + 10 - (i as u32 + 1)) % 10;
            sum += if tmp == 9 {
                9
            } else {
                (tmp * 2u32.pow(9 - i as u32)) % 9
            };
        }
        d.push((10 - sum % 10) % 10);
        d.iter().map(|x| char::from(b'0' + *x as u8)).collect()
    }

    /// An 11-digit TCKN with valid check digits.
    fn tckn(&mut self) -> String {
        let mut d: Vec<u32> = (0..9).map(|_| self.rng.random_range(0..10)).collect();
        d[0] = self.rng.random_range(1..10);
        let odd: u32 = d[0] + d[2] + d[4] + d[6] + d[8];
        let even: u32 = d[1] + d[3] + d[5] + d[7];
        let d10 = (odd * 7 + 100 - even) % 10;
        d.push(d10);
        let d11 = d.iter().sum::<u32>() % 10;
        d.push(d11);
        d.iter().map(|x| char::from(b'0' + *x as u8)).collect()
    }

    /// An EAN-13 under the Turkish prefix 869.
    fn ean13(&mut self) -> String {
        let body = format!("869{}", self.digits(9));
        let sum: u32 = body
            .bytes()
            .enumerate()
            .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 })
            .sum();
        format!("{body}{}", (10 - sum % 10) % 10)
    }
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn base() -> Timestamp {
    BASE.parse().unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Lowercase ASCII for e-mail addresses and SKUs ("Çağlar" -> "caglar").
fn ascii_fold(text: &str) -> String {
    text.chars()
        .filter_map(|c| {
            let folded = match c {
                'ç' | 'Ç' => 'c',
                'ğ' | 'Ğ' => 'g',
                'ı' | 'I' | 'İ' | 'i' => 'i',
                'ö' | 'Ö' => 'o',
                'ş' | 'Ş' => 's',
                'ü' | 'Ü' => 'u',
                'â' | 'Â' => 'a',
                c if c.is_ascii_alphanumeric() => c.to_ascii_lowercase(),
                _ => return None,
            };
            Some(folded)
        })
        .collect()
}

/// Turkish upper case: i -> İ, ı -> I (what a person typing in Luca would produce).
fn turkish_upper(text: &str) -> String {
    text.chars()
        .flat_map(|c| match c {
            'i' => vec!['İ'],
            'ı' => vec!['I'],
            c => c.to_uppercase().collect(),
        })
        .collect()
}

/// Builds both sides' data for these options.
pub fn generate(opts: &SandboxOptions) -> (KatanaData, LucaData) {
    let mut g = Gen {
        rng: Xoshiro256PlusPlus::seed_from_u64(opts.seed),
        base_ms: base().as_millisecond(),
    };
    let mut k = KatanaData::default();
    let start = ts(g.base_ms - WINDOW_DAYS * DAY_MS);
    tax_rates(&mut k, start);
    locations(&mut k, start);
    suppliers(&mut g, &mut k);
    products(&mut g, &mut k, opts.products);
    customers(&mut g, &mut k, opts.customers);
    inventory(&mut g, &mut k);
    orders(&mut g, &mut k, opts.orders);
    if opts.bad_records {
        bad_records(&mut g, &mut k);
    }
    let luca = luca(&mut g, &k, opts.luca_branch_id);
    (k, luca)
}

fn tax_rates(k: &mut KatanaData, at: Timestamp) {
    for (id, rate) in [(TAX_20, 20), (TAX_10, 10), (TAX_1, 1)] {
        k.tax_rates.insert(
            id,
            TaxRate {
                id,
                name: format!("KDV %{rate}"),
                rate: Decimal::from(rate),
                is_default_sales: rate == 20,
                is_default_purchases: rate == 20,
                display_name: format!("KDV ({rate}.0%)"),
                created_at: at,
                updated_at: at,
            },
        );
    }
}

fn locations(k: &mut KatanaData, at: Timestamp) {
    let sites = [
        (
            "Merkez Fabrika",
            "Tuzla OSB 7. Cad. No:14",
            "İstanbul",
            "34957",
        ),
        (
            "İzmir Depo",
            "Kemalpaşa OSB Ankara Asfaltı No:52",
            "İzmir",
            "35730",
        ),
        ("Ankara Showroom", "Cinnah Cad. No:31", "Ankara", "06690"),
    ];
    for (i, (name, line, city, zip)) in sites.into_iter().enumerate() {
        let address = LocationAddress {
            id: 5001 + i as i64,
            city: city.into(),
            country: "TR".into(),
            line_1: line.into(),
            line_2: String::new(),
            state: city.into(),
            zip: zip.into(),
        };
        let id = k.insert_location(name, Some(address), at);
        if let Some(loc) = k.locations.get_mut(&id) {
            loc.legal_name = "Demo Üretim A.Ş.".into();
            loc.is_primary = i == 0;
            loc.manufacturing_allowed = i == 0;
            loc.purchase_allowed = i < 2;
        }
    }
}

fn suppliers(g: &mut Gen, k: &mut KatanaData) {
    let mut times: Vec<Timestamp> = (0..25).map(|_| g.time_between(120, 115)).collect();
    times.sort();
    for at in times {
        let name = format!(
            "{} {} {}",
            g.pick(COMPANY_WORDS),
            g.pick(SUPPLIER_SECTORS),
            g.pick(COMPANY_SUFFIXES)
        );
        let id = k.insert_supplier(&name, at);
        let (city, _, zip) = *g.pick(CITIES);
        let street = format!("{} No:{}", g.pick(STREETS), g.rng.random_range(1..120));
        let phone = g.phone();
        let updated = g.later(at, 30);
        if let Some(s) = k.suppliers.get_mut(&id) {
            s.email = Some(format!("satis@{}.com.tr", ascii_fold(&name)));
            s.phone = Some(phone);
            s.default_address_id = Some(id);
            s.addresses.push(Address {
                company: Some(name.clone()),
                ..billing_address(id, street, city, zip, at)
            });
            s.updated_at = updated;
        }
    }
}

/// A Turkish billing address with no owner or contact set.
fn billing_address(id: i64, line_1: String, city: &str, zip: &str, at: Timestamp) -> Address {
    Address {
        id,
        sales_order_id: None,
        customer_id: None,
        entity_type: "billing".into(),
        first_name: None,
        last_name: None,
        company: None,
        phone: None,
        line_1: Some(line_1),
        line_2: None,
        city: Some(city.into()),
        state: Some(city.into()),
        zip: Some(zip.into()),
        country: Some("TR".into()),
        created_at: at,
        updated_at: at,
    }
}

/// SKU prefix from a product name's initials: "Çelik Raf" -> "CR".
fn sku_prefix(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|w| ascii_fold(w).chars().next())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn products(g: &mut Gen, k: &mut KatanaData, count: usize) {
    let mut names: Vec<(String, &str)> = PRODUCT_NAMES
        .iter()
        .flat_map(|(n, uom)| SERIES.iter().map(move |s| (format!("{n} {s}"), *uom)))
        .collect();
    // A seeded shuffle, then in order: unique names for up to 150 products.
    for i in (1..names.len()).rev() {
        let j = g.rng.random_range(0..=i);
        names.swap(i, j);
    }
    let mut times: Vec<Timestamp> = (0..count).map(|_| g.time_between(115, 90)).collect();
    times.sort();
    let supplier_ids: Vec<i64> = k.suppliers.keys().copied().collect();
    for (seq, at) in times.into_iter().enumerate() {
        let (base_name, uom) = &names[seq % names.len()];
        let name = if seq < names.len() {
            base_name.clone()
        } else {
            format!("{base_name} {}", seq / names.len() + 1)
        };
        let id = k.insert_product(&name, uom, at);
        let category = g.pick(CATEGORIES).to_string();
        let supplier = supplier_ids
            .get(g.rng.random_range(0..supplier_ids.len().max(1)))
            .copied();
        if let Some(p) = k.products.get_mut(&id) {
            p.category_name = Some(category);
            p.default_supplier_id = supplier;
            p.is_purchasable = g.rng.random_bool(0.2);
        }
        let prefix = format!("{}-{:04}", sku_prefix(&name), seq + 1);
        let price = g.amount(50, 12_000);
        for options in variant_options(g) {
            let mut sku = prefix.clone();
            for (config, value) in &options {
                let abbrev = if *config == "Renk" {
                    COLOURS
                        .iter()
                        .find(|(c, _)| c == value)
                        .map_or("X", |(_, a)| a)
                        .to_string()
                } else {
                    value.trim_end_matches(" cm").to_string()
                };
                sku = format!("{sku}-{abbrev}");
            }
            let step = Decimal::new(g.rng.random_range(0..4) * 250, 2);
            let vid = k.insert_variant(id, Some(&sku), price + step, &options, at);
            let barcode = g.ean13();
            let internal = format!("2000{}", g.digits(8));
            if let Some(v) = vid.and_then(|vid| k.variants.get_mut(&vid)) {
                v.registered_barcode = Some(barcode);
                v.internal_barcode = Some(internal);
            }
        }
        let updated = g.later(at, 40);
        if let Some(p) = k.products.get_mut(&id) {
            p.updated_at = updated;
            // Every 15th product is archived (no dice drawn, so the rest of the data
            // stays as it was): Katana hides it unless asked with include_archived.
            if seq % 15 == 14 {
                p.archived_at = Some(updated);
            }
        }
    }
}

/// One to four variants: no options, colours, sizes, or colour x size.
fn variant_options(g: &mut Gen) -> Vec<Vec<(&'static str, &'static str)>> {
    let n = *g.pick(&[1usize, 1, 2, 2, 3, 4]);
    if n == 1 && g.chance(0.5) {
        return vec![Vec::new()];
    }
    let scheme = g.rng.random_range(0..3);
    let mut combos: Vec<Vec<(&'static str, &'static str)>> = Vec::new();
    let mut guard = 0;
    while combos.len() < n && guard < 100 {
        guard += 1;
        let colour = ("Renk", g.pick(COLOURS).0);
        let size = ("Boyut", *g.pick(SIZES));
        let combo = match scheme {
            0 => vec![colour],
            1 => vec![size],
            _ => vec![colour, size],
        };
        if !combos.contains(&combo) {
            combos.push(combo);
        }
    }
    combos
}

fn customers(g: &mut Gen, k: &mut KatanaData, count: usize) {
    let mut times: Vec<Timestamp> = (0..count).map(|_| g.time_between(115, 30)).collect();
    times.sort();
    for at in times {
        let company = g.chance(0.65);
        let (first, last) = (*g.pick(FIRST_NAMES), *g.pick(LAST_NAMES));
        let name = if company {
            format!(
                "{} {} {}",
                g.pick(COMPANY_WORDS),
                g.pick(SECTORS),
                g.pick(COMPANY_SUFFIXES)
            )
        } else {
            format!("{first} {last}")
        };
        let id = k.insert_customer(&name, at);
        let tax_id = match (company, g.chance(0.95)) {
            (_, false) => None,
            (true, true) => Some(format!("VKN:{}", g.vkn())),
            (false, true) => Some(format!("TCKN:{}", g.tckn())),
        };
        let (city, district, zip) = *g.pick(CITIES);
        let street = format!("{} No:{}", g.pick(STREETS), g.rng.random_range(1..200));
        let phone = g.phone();
        let eur = company && g.chance(0.12);
        let updated = g.later(at, 20);
        let email = if company {
            format!(
                "info@{}.com.tr",
                ascii_fold(name.split(' ').next().unwrap_or("firma"))
            )
        } else {
            format!("{}.{}@example.com", ascii_fold(first), ascii_fold(last))
        };
        let category = if company {
            *g.pick(&["Toptan", "Bayi", "Kurumsal"])
        } else {
            "Perakende"
        };
        if let Some(c) = k.customers.get_mut(&id) {
            if company {
                c.company = Some(name.clone());
            } else {
                c.first_name = Some(first.into());
                c.last_name = Some(last.into());
            }
            c.email = Some(email);
            c.phone = Some(phone.clone());
            c.currency = if eur { "EUR" } else { "TRY" }.into();
            c.reference_id = tax_id;
            c.category = Some(category.into());
            c.default_billing_id = Some(id);
            c.default_shipping_id = Some(id);
            c.addresses.push(Address {
                customer_id: Some(id),
                first_name: c.first_name.clone(),
                last_name: c.last_name.clone(),
                company: c.company.clone(),
                phone: Some(phone),
                ..billing_address(id, format!("{street} {district}"), city, zip, at)
            });
            c.updated_at = updated;
        }
    }
}

fn inventory(g: &mut Gen, k: &mut KatanaData) {
    let location_ids: Vec<i64> = k.locations.keys().copied().collect();
    let variants: Vec<(i64, Decimal, bool)> = k
        .variants
        .values()
        .map(|v| {
            let fractional = v
                .product_id
                .and_then(|p| k.products.get(&p))
                .is_some_and(|p| p.uom != "pcs");
            (v.id, v.purchase_price, fractional)
        })
        .collect();
    for (li, loc) in location_ids.iter().enumerate() {
        for (vid, cost, fractional) in &variants {
            // The showroom keeps only some items.
            if li == 2 && !g.chance(0.3) {
                continue;
            }
            let scale = if *fractional { 3 } else { 0 };
            let max = if *fractional { 400_000 } else { 400 };
            let in_stock = Decimal::new(g.rng.random_range(0..max), scale);
            let committed = Decimal::from(g.rng.random_range(0..20));
            let expected = if g.chance(0.2) {
                Decimal::from(g.rng.random_range(10..100))
            } else {
                Decimal::ZERO
            };
            k.inventory.push(InventoryLevel {
                variant_id: *vid,
                location_id: *loc,
                quantity_in_stock: in_stock,
                quantity_committed: committed,
                quantity_expected: expected,
                quantity_missing_or_excess: in_stock + expected - committed,
                quantity_potential: None,
                safety_stock_level: Decimal::from(5),
                reorder_point: Decimal::from(5),
                average_cost: *cost,
                value_in_stock: (in_stock * cost).round_dp(10),
                archived_at: None,
                default_storage_bin: None,
            });
        }
    }
}

fn orders(g: &mut Gen, k: &mut KatanaData, count: usize) {
    let mut times: Vec<Timestamp> = (0..count).map(|_| g.time_between(90, 0)).collect();
    times.sort();
    let customers: Vec<(i64, Timestamp, String)> = k
        .customers
        .values()
        .map(|c| (c.id, c.created_at, c.currency.clone()))
        .collect();
    let sellable: Vec<(i64, Decimal)> = k
        .variants
        .values()
        .filter_map(|v| Some((v.id, v.sales_price?)))
        .collect();
    let weighted_status = [
        (SalesOrderStatus::Pending, 10),
        (SalesOrderStatus::NotShipped, 30),
        (SalesOrderStatus::PartiallyPacked, 5),
        (SalesOrderStatus::Packed, 10),
        (SalesOrderStatus::PartiallyDelivered, 5),
        (SalesOrderStatus::Delivered, 40),
    ];
    for (i, at) in times.into_iter().enumerate() {
        let eligible: Vec<&(i64, Timestamp, String)> =
            customers.iter().filter(|c| c.1 <= at).collect();
        let chosen = if eligible.is_empty() {
            customers.first()
        } else {
            Some(*g.pick(&eligible))
        };
        let Some((customer_id, _, currency)) = chosen.cloned() else {
            return;
        };
        let status = if i < SalesOrderStatus::ALL.len() {
            SalesOrderStatus::ALL[i]
        } else {
            let roll = g.rng.random_range(0..100);
            let mut acc = 0;
            weighted_status
                .iter()
                .find(|(_, w)| {
                    acc += w;
                    roll < acc
                })
                .map_or(SalesOrderStatus::Delivered, |(s, _)| *s)
        };
        let location_id = *g.pick(&[1001, 1001, 1001, 1002, 1002, 1003]);
        let mut new = NewSalesOrder::new(customer_id, location_id);
        new.status = status;
        if currency == "EUR" {
            new.currency = "EUR".into();
            new.conversion_rate = Some(Decimal::new(g.rng.random_range(350_000..389_999), 4));
        }
        let rate = new.conversion_rate.unwrap_or(Decimal::ONE);
        // With no products at all (--products 0) orders come without rows.
        let rows = if sellable.is_empty() {
            0
        } else {
            g.rng.random_range(1..=5)
        };
        for _ in 0..rows {
            let (variant_id, price) = *g.pick(&sellable);
            new.rows.push(NewOrderRow {
                variant_id,
                quantity: Decimal::from(g.rng.random_range(1..25)),
                price_per_unit: (price / rate).round_dp(2),
                tax_rate_id: Some(*g.pick(&[TAX_20, TAX_20, TAX_20, TAX_20, TAX_10, TAX_1])),
            });
        }
        let id = k.insert_order(new, at);
        finish_order(g, k, id, at);
    }
}

/// Gives a generated order its later life: status dates, edits, string quantities and the
/// occasional soft deletion.
fn finish_order(g: &mut Gen, k: &mut KatanaData, id: i64, at: Timestamp) {
    let picked = g.later(at, 7);
    let updated = g.later(at, 10);
    let delivery = plus_days(at, g.rng.random_range(7..22));
    let customer_ref = g.chance(0.3).then(|| format!("PO-{}", g.digits(5)));
    let deleted = g.chance(0.02);
    let source = *g.pick(&["katana", "katana", "katana", "katana", "api", "shopify"]);
    let Some(order) = k.sales_orders.get_mut(&id) else {
        return;
    };
    order.delivery_date = Some(delivery);
    order.customer_ref = customer_ref;
    order.source = Some(source.into());
    if source == "shopify" {
        order.ecommerce_order_type = Some("shopify".into());
        order.ecommerce_store_name = Some("demo-uretim.myshopify.com".into());
        order.ecommerce_order_id = Some(order.id.to_string());
    }
    if matches!(
        order.status,
        SalesOrderStatus::Packed
            | SalesOrderStatus::PartiallyPacked
            | SalesOrderStatus::PartiallyDelivered
            | SalesOrderStatus::Delivered
    ) {
        order.picked_date = Some(picked);
    }
    if order.status == SalesOrderStatus::Delivered {
        order.invoicing_status = Some("invoiced".into());
    }
    order.updated_at = updated.max(picked.min(updated));
    if deleted {
        order.deleted_at = Some(order.updated_at);
    }
    let order_updated = order.updated_at;
    // The order was just inserted: its rows are the newest ones.
    let row_ids: Vec<i64> = k
        .sales_order_rows
        .values()
        .rev()
        .take_while(|r| r.sales_order_id == id)
        .map(|r| r.id)
        .collect();
    for &rid in &row_ids {
        let as_text = g.chance(0.5);
        let delete_row = !deleted && g.chance(0.02);
        let later = g.later(order_updated, 3);
        if let Some(row) = k.sales_order_rows.get_mut(&rid) {
            if as_text && let Quantity::Number(q) = row.quantity {
                row.quantity = Quantity::Text(format!("{q:.5}"));
            }
            if delete_row {
                // After the order's last update: the order's updated_at does not move.
                row.deleted_at = Some(later);
                row.updated_at = later;
            }
        }
    }
    let live: Vec<i64> = row_ids
        .into_iter()
        .filter(|r| {
            k.sales_order_rows
                .get(r)
                .is_some_and(|r| r.deleted_at.is_none())
        })
        .collect();
    k.recompute_rows(id, &live);
}

/// The handful of records a robust client must quarantine (or handle) rather than trip on.
fn bad_records(g: &mut Gen, k: &mut KatanaData) {
    let base_ms = g.base_ms;
    let at = |days_ago: i64, hour: i64| ts(base_ms - days_ago * DAY_MS + hour * 3_600_000);
    let customer = k.customers.keys().next().copied().unwrap_or(0);
    let clean_variant = k
        .variants
        .values()
        .find(|v| v.sku.is_some())
        .map(|v| (v.id, v.sku.clone(), v.sales_price.unwrap_or_default()));
    let Some((clean_id, clean_sku, clean_price)) = clean_variant else {
        return;
    };
    let clean_row = || NewOrderRow {
        variant_id: clean_id,
        quantity: Decimal::from(2),
        price_per_unit: clean_price,
        tax_rate_id: Some(TAX_20),
    };
    let open = |customer_id: i64| {
        let mut o = NewSalesOrder::new(customer_id, 1001);
        o.status = SalesOrderStatus::NotShipped;
        o
    };

    // 1. A variant without a SKU, and an order row that uses it.
    let t = at(3, 1);
    let product = k.insert_product("Numune Döküm Kapak", "pcs", t);
    let null_sku = k.insert_variant(product, None, Decimal::new(45_000, 2), &[], t);
    if let Some(vid) = null_sku {
        let order = open(customer).row(clean_row()).row(NewOrderRow {
            variant_id: vid,
            quantity: Decimal::ONE,
            price_per_unit: Decimal::new(45_000, 2),
            tax_rate_id: Some(TAX_20),
        });
        k.insert_order(order, t);
    }
    // 2. A row whose variant does not exist.
    let t = at(3, 2);
    k.insert_order(
        open(customer).row(clean_row()).row(NewOrderRow {
            variant_id: UNKNOWN_VARIANT_ID,
            quantity: Decimal::ONE,
            price_per_unit: Decimal::from(100),
            tax_rate_id: Some(TAX_20),
        }),
        t,
    );
    // 3. A row whose tax rate does not exist.
    let t = at(3, 3);
    let mut row = clean_row();
    row.tax_rate_id = Some(UNKNOWN_TAX_RATE_ID);
    k.insert_order(open(customer).row(row), t);
    // 4. A row with a malformed decimal price.
    let t = at(3, 4);
    let order = k.insert_order(open(customer).row(clean_row()).row(clean_row()), t);
    if let Some(last) = k.order_rows(order).last().map(|r| r.id)
        && let Some(row) = k.sales_order_rows.get_mut(&last)
    {
        row.price_per_unit = "12,5O".into();
    }
    k.recompute_order(order);
    // 5. A EUR order without a conversion rate.
    let t = at(3, 5);
    let mut eur = open(customer).row(clean_row());
    eur.currency = "EUR".into();
    k.insert_order(eur, t);
    // 6. A second live variant with an existing SKU.
    let t = at(3, 6);
    let product = k.insert_product("Çelik Raf Eski Model", "pcs", t);
    k.insert_variant(product, clean_sku.as_deref(), clean_price, &[], t);
    // 7. A customer whose name Luca cannot store (not in Windows-1254), with an open order.
    let t = at(3, 7);
    let polish = k.insert_customer("Łódź Metal Sp. z o.o.", t);
    if let Some(c) = k.customers.get_mut(&polish) {
        c.company = Some("Łódź Metal Sp. z o.o.".into());
        c.currency = "EUR".into();
        c.reference_id = Some(format!("VKN:{}", g.vkn()));
    }
    let mut order = open(polish).row(clean_row());
    order.currency = "EUR".into();
    order.conversion_rate = Some(Decimal::new(368_421, 4));
    k.insert_order(order, t);
    // 8. A SKU with a trailing space (the stock code is the SKU trimmed).
    let t = at(3, 8);
    let product = k.insert_product("Döküm Kapak Özel", "pcs", t);
    k.insert_variant(product, Some("DKO-0001 "), Decimal::new(78_000, 2), &[], t);
}

fn luca(g: &mut Gen, k: &KatanaData, main_id: i64) -> LucaData {
    let mut luca = LucaData::default();
    let second_id = main_id + 1;
    for (id, name) in [main_id, second_id].into_iter().zip(BRANCH_NAMES) {
        luca.branches.insert(id, LucaBranch::new(id, name));
    }
    let seeded = Date::new(2026, 7, 15).unwrap_or_default();
    let Some(main) = luca.branches.get_mut(&main_id) else {
        return luca;
    };
    for (kod, tanim, il, ilce) in [
        ("001", "Merkez Depo", "İstanbul", "Tuzla"),
        ("002", "İzmir Depo", "İzmir", "Kemalpaşa"),
    ] {
        main.warehouses.push(Warehouse {
            depo_id: take(&mut luca.ids.depo),
            kod: kod.into(),
            tanim: tanim.into(),
            kategori_kod: None,
            ulke: Some("TÜRKİYE".into()),
            il: Some(il.into()),
            ilce: Some(ilce.into()),
            adres_serbest: None,
            origin: Origin::Seed,
            raw: None,
        });
    }
    // Cards a person created before the tool: codes equal to some Katana SKUs, names typed
    // differently (upper case) so a client must adopt them and never rewrite them.
    let mut adopted: Vec<(String, String)> = Vec::new();
    for product in k.products.values().step_by(3).take(5) {
        if let Some(v) = k
            .variants
            .values()
            .find(|v| v.product_id == Some(product.id) && v.sku.is_some())
        {
            let options: Vec<&str> = v
                .config_attributes
                .iter()
                .map(|a| a.config_value.as_str())
                .collect();
            let name = turkish_upper(&format!("{} {}", product.name, options.join(" ")));
            adopted.push((v.sku.clone().unwrap_or_default(), name.trim().to_string()));
        }
    }
    adopted.push(("HZM-NAKLIYE".into(), "Nakliye Hizmeti".into()));
    adopted.push(("ESK-0001".into(), "Eski Model Raf Ayağı".into()));
    for (code, name) in &adopted {
        main.stock_cards.push(StockCard {
            skart_id: take(&mut luca.ids.skart),
            kart_kodu: code.clone(),
            kart_adi: name.clone(),
            kart_turu: if code.starts_with("HZM") { 2 } else { 1 },
            kart_tipi: Some(1),
            baslangic_tarihi: "15/07/2026".into(),
            kategori_agac_kod: Some("01".into()),
            olcum_birimi_id: Some(5),
            barkod: None,
            kart_alis_kdv_oran: Some(Decimal::new(20, 2)),
            kart_satis_kdv_oran: Some(Decimal::new(20, 2)),
            ekleme_tarihi: seeded,
            deleted: false,
            origin: Origin::Seed,
            raw: None,
        });
    }
    // Opening stock for the seeded stock cards, as a person's opening slip: what Katana
    // holds at 1001 into 001 and at 1002 into 002, but for three seeded drifts
    // (docs/sandbox.md); the card unknown to Katana gets a drawn quantity in 001.
    let level = |code: &str, location: i64| -> Decimal {
        let variants: Vec<i64> = k
            .variants
            .values()
            .filter(|v| v.sku.as_deref() == Some(code))
            .map(|v| v.id)
            .collect();
        k.inventory
            .iter()
            .filter(|i| i.location_id == location && variants.contains(&i.variant_id))
            .map(|i| i.quantity_in_stock)
            .sum()
    };
    let mut lines: Vec<DocLine> = Vec::new();
    let mut known = 0;
    for (code, name) in adopted.iter().filter(|(code, _)| !code.starts_with("HZM")) {
        // Drawn for every card, so the generator's sequence stays what it was.
        let drawn = Decimal::from(g.rng.random_range(10..100));
        let in_katana = k.variants.values().any(|v| v.sku.as_deref() == Some(code));
        let quantities = if in_katana {
            let (main, izmir) = (level(code, 1001), level(code, 1002));
            let q = match known {
                0 => [main + Decimal::from(4), izmir],
                1 => [main, izmir + Decimal::from(3)],
                // Never booked into 001: Luca holds none of Katana's stock there.
                2 => [Decimal::ZERO, izmir],
                _ => [main, izmir],
            };
            known += 1;
            [("001", q[0]), ("002", q[1])]
        } else {
            [("001", drawn), ("002", Decimal::ZERO)]
        };
        for (depo, miktar) in quantities.into_iter().filter(|(_, q)| *q > Decimal::ZERO) {
            lines.push(DocLine {
                kart_kodu: code.clone(),
                kart_adi: Some(name.clone()),
                miktar,
                birim_fiyat: None,
                kdv_oran: None,
                depo_kodu: depo.into(),
            });
        }
    }
    let mut on_hand: BTreeMap<String, BTreeMap<String, Decimal>> = BTreeMap::new();
    for line in &lines {
        *on_hand
            .entry(line.depo_kodu.clone())
            .or_default()
            .entry(line.kart_kodu.clone())
            .or_default() += line.miktar;
    }
    main.on_hand = on_hand;
    main.stock_slips.push(Document {
        id: take(&mut luca.ids.dsh),
        belge_seri: "A".into(),
        belge_no: 1,
        belge_tarihi: seeded,
        vade_tarihi: None,
        belge_takip_no: None,
        belge_tur_detay_id: 150,
        belge_aciklama: Some("Açılış fişi".into()),
        cari_kodu: None,
        cari_tanim: None,
        para_birim_kod: "TRY".into(),
        kur_bedeli: Decimal::ONE,
        lines,
        origin: Origin::Seed,
        raw: None,
    });
    // Caris a person created: one under the tool's code convention (adopt by code), one
    // under another code with the customer's tax number (adopt by tax number), one unrelated.
    let with_tax: Vec<_> = k
        .customers
        .values()
        .filter_map(|c| {
            let (kind, number) = c.reference_id.as_deref()?.split_once(':')?;
            Some((c, kind == "VKN", number.to_string()))
        })
        .take(2)
        .collect();
    // (code, name, tip, vergiNo, tcKimlikNo)
    type SeedCari = (String, String, i64, Option<String>, Option<String>);
    let mut caris: Vec<SeedCari> = Vec::new();
    for (i, (c, company, number)) in with_tax.into_iter().enumerate() {
        let code = if i == 0 {
            format!("K{:08}", c.id)
        } else {
            "120.00017".into()
        };
        let (vergi, tckn) = if company {
            (Some(number), None)
        } else {
            (None, Some(number))
        };
        caris.push((
            code,
            turkish_upper(&c.name),
            if company { 1 } else { 2 },
            vergi,
            tckn,
        ));
    }
    caris.push((
        "120.00001".into(),
        "Perakende Satışlar".into(),
        2,
        None,
        None,
    ));
    for (kod, tanim, tip, vergi_no, tc_kimlik_no) in caris {
        main.customers.push(seed_cari(
            &mut luca.ids.finansal_nesne,
            kod,
            tanim,
            tip,
            vergi_no,
            tc_kimlik_no,
        ));
    }
    if let Some(s) = k.suppliers.values().next() {
        main.suppliers.push(seed_cari(
            &mut luca.ids.finansal_nesne,
            format!("T{:08}", s.id),
            turkish_upper(&s.name),
            1,
            None,
            None,
        ));
    }
    main.suppliers.push(seed_cari(
        &mut luca.ids.finansal_nesne,
        "320.00001".into(),
        "Muhtelif Tedarikçiler".into(),
        1,
        None,
        None,
    ));
    if let Some(branch) = luca.branches.get_mut(&second_id) {
        branch.warehouses.push(Warehouse {
            depo_id: take(&mut luca.ids.depo),
            kod: "001".into(),
            tanim: "Şube Depo".into(),
            kategori_kod: None,
            ulke: Some("TÜRKİYE".into()),
            il: Some("Bursa".into()),
            ilce: Some("Nilüfer".into()),
            adres_serbest: None,
            origin: Origin::Seed,
            raw: None,
        });
    }
    luca
}

fn seed_cari(
    counter: &mut i64,
    kod: String,
    tanim: String,
    tip: i64,
    vergi_no: Option<String>,
    tc_kimlik_no: Option<String>,
) -> Cari {
    Cari {
        finansal_nesne_id: take(counter),
        kod,
        kisa_ad: Some(tanim.clone()),
        yasal_unvan: Some(tanim.clone()),
        tanim,
        tip,
        cari_tip_id: Some(5),
        vergi_no,
        tc_kimlik_no,
        para_birim_kod: "TRY".into(),
        kategori_kod: Some("120.01".into()),
        il: None,
        ilce: None,
        origin: Origin::Seed,
        raw: None,
    }
}

fn take(counter: &mut i64) -> i64 {
    let id = *counter;
    *counter += 1;
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits_are_valid() {
        let mut g = Gen {
            rng: Xoshiro256PlusPlus::seed_from_u64(1),
            base_ms: 0,
        };
        for _ in 0..20 {
            let t = g.tckn();
            let d: Vec<u32> = t.bytes().map(|b| u32::from(b - b'0')).collect();
            assert_eq!(d.len(), 11);
            assert_eq!(d[..10].iter().sum::<u32>() % 10, d[10]);
            assert_eq!(g.vkn().len(), 10);
            assert_eq!(g.ean13().len(), 13);
        }
    }

    #[test]
    fn empty_sizes_do_not_panic() {
        let opts = SandboxOptions {
            orders: 5,
            products: 0,
            customers: 0,
            ..SandboxOptions::default()
        };
        let (k, _) = generate(&opts);
        assert!(k.sales_orders.is_empty(), "no customer, no order");
        let opts = SandboxOptions {
            customers: 3,
            ..opts
        };
        let (k, l) = generate(&opts);
        assert_eq!(k.sales_orders.len(), 5);
        assert!(k.sales_order_rows.is_empty());
        assert_eq!(l.branches.len(), 2);
    }

    #[test]
    fn folding_and_upper_case_are_turkish() {
        assert_eq!(ascii_fold("Çağlar Şimşek"), "caglarsimsek");
        assert_eq!(turkish_upper("çelik raf ışık"), "ÇELİK RAF IŞIK");
        assert_eq!(sku_prefix("İş Tezgâhı Pro"), "ITP");
    }
}
