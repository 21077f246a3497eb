"""The fixed parameters of the simulated retailer: people, channels, causal model, vocabularies."""

from __future__ import annotations

from dataclasses import dataclass

from omnimetrics.schema import (
    CHANNELS,
    DEVICE_TYPES,
    EVENT_TYPES,
    FULFILMENTS,
    ORDER_STATUSES,
    SALES_CHANNELS,
)

CH = {name: i for i, name in enumerate(CHANNELS)}
ET = {name: i for i, name in enumerate(EVENT_TYPES)}
SC = {name: i for i, name in enumerate(SALES_CHANNELS)}
FF = {name: i for i, name in enumerate(FULFILMENTS)}
ST = {name: i for i, name in enumerate(ORDER_STATUSES)}
DT = {name: i for i, name in enumerate(DEVICE_TYPES)}

ROLES = (
    "exposure",  # a marketing exposure that may trigger an order (causal)
    "engagement",  # an open, a click, a click-through visit that follows an exposure
    "navigational",  # a visit made because the person already meant to buy (not causal)
    "order_session",  # the visit in which an online order is placed
    "research",  # online research before a store purchase (ROPO)
    "store_visit",  # a store visit before an online purchase (reverse ROPO)
    "background",  # browsing, app use, service contacts unrelated to an order
    "funnel",  # page/product views, carts and checkouts inside a visit
    "service",  # calls and chats
    "offline",  # QR scans, mail drops, app installs
)
RL = {name: i for i, name in enumerate(ROLES)}
OMNI_LIFT_CAUSE = -2
"""`Orders.cause` of the extra purchases caused by becoming omnichannel (-1 is baseline)."""

SEGMENTS = ("online_only", "store_only", "omnichannel")
SEGMENT_SHARES = (0.22, 0.25, 0.53)

# City, region, share of people, number of stores.
CITIES = (
    ("Paris", "Ile-de-France", 0.30, 7),
    ("Marseille", "Provence-Alpes-Cote d'Azur", 0.11, 3),
    ("Lyon", "Auvergne-Rhone-Alpes", 0.11, 3),
    ("Toulouse", "Occitanie", 0.08, 2),
    ("Nice", "Provence-Alpes-Cote d'Azur", 0.06, 2),
    ("Nantes", "Pays de la Loire", 0.06, 2),
    ("Strasbourg", "Grand Est", 0.05, 2),
    ("Montpellier", "Occitanie", 0.05, 2),
    ("Bordeaux", "Nouvelle-Aquitaine", 0.06, 2),
    ("Lille", "Hauts-de-France", 0.05, 2),
    ("Rennes", "Bretagne", 0.04, 2),
    ("Reims", "Grand Est", 0.03, 1),
)

FIRST_NAMES = (
    "jean", "marie", "pierre", "sophie", "nicolas", "julie", "thomas", "camille", "lucas",
    "lea", "hugo", "chloe", "louis", "manon", "paul", "emma", "antoine", "sarah", "julien",
    "laura", "maxime", "ines", "alexandre", "clara", "romain", "pauline", "mathieu", "lucie",
    "kevin", "anais", "olivier", "claire", "yanis", "amina", "mehdi", "fatou", "karim", "nina",
)  # fmt: skip
LAST_NAMES = (
    "martin", "bernard", "dubois", "thomas", "robert", "richard", "petit", "durand", "leroy",
    "moreau", "simon", "laurent", "lefebvre", "michel", "garcia", "david", "bertrand", "roux",
    "vincent", "fournier", "morel", "girard", "andre", "mercier", "dupont", "lambert", "bonnet",
    "francois", "martinez", "legrand", "garnier", "faure", "rousseau", "blanc", "guerin",
    "muller", "henry", "roussel", "nicolas", "perrin", "diallo", "benali", "nguyen",
)  # fmt: skip

SITE = "https://www.maison-exemple.fr"
PAGES = ("/", "/femme", "/homme", "/maison", "/soldes", "/nouveautes", "/magasins", "/p/")


@dataclass(frozen=True)
class ClvParameters:
    """BG/NBD-like purchase and dropout process and Gamma-Gamma spend (time unit: day)."""

    r: float = 0.75
    alpha: float = 400.0
    a: float = 0.9
    b: float = 3.0
    p: float = 6.0
    q: float = 4.0
    gamma: float = 35.0
    rho_dropout: float = 0.35
    """Gaussian-copula correlation between satisfaction and staying (1 - dropout)."""
    rho_spend: float = 0.30
    """Gaussian-copula correlation between satisfaction and spend per order."""
    omni_lift: float = 1.0
    """Causal effect of becoming omnichannel: from a person's first order in a second sales
    channel on, their baseline purchase rate is multiplied by this while alive (>= 1; the
    default 1.0 adds nothing and draws no random number)."""


@dataclass(frozen=True)
class ChannelModel:
    """How exposures of a channel trigger orders: P = beta * exp(-decay * n_prev_30d)."""

    beta: float
    mean_delay_days: float
    cost_per_exposure: float
    frequency_decay: float
    exposure_events: str
    beta_engaged: float | None = None
    """Owned messages: trigger probability when the message was clicked/opened."""
    engaged_delay_days: float | None = None
    store_factor: float = 1.0
    """Multiplies the person's store share when choosing where a triggered order is placed."""


CAUSAL: dict[str, ChannelModel] = {
    "display": ChannelModel(0.045, 8.0, 1.0, 0.15, "ad_impression", store_factor=0.9),
    "paid_social": ChannelModel(0.055, 6.0, 0.9, 0.15, "ad_impression", store_factor=0.8),
    "video": ChannelModel(0.06, 10.0, 2.2, 0.20, "ad_impression", store_factor=1.0),
    "paid_search": ChannelModel(0.14, 1.0, 0.8, 0.05, "visit (paid click)", store_factor=0.5),
    "affiliate": ChannelModel(0.09, 0.4, 0.4, 0.0, "visit (affiliate click)", store_factor=0.0),
    "email": ChannelModel(
        0.008, 2.0, 0.002, 0.05, "email_send", beta_engaged=0.15, engaged_delay_days=0.3,
        store_factor=0.7,
    ),
    "sms": ChannelModel(
        0.02, 1.5, 0.05, 0.2, "sms_send", beta_engaged=0.15, engaged_delay_days=0.3,
        store_factor=1.1,
    ),
    "push": ChannelModel(
        0.008, 0.7, 0.0, 0.1, "push_send", beta_engaged=0.12, engaged_delay_days=0.2,
        store_factor=0.3,
    ),
    "direct_mail": ChannelModel(0.05, 7.0, 0.8, 0.3, "mail_drop", store_factor=1.3),
}  # fmt: skip
SATURATION_WINDOW_DAYS = 30

# Exposures per person per 365 days bought by always-on campaigns (seasonal ones add more).
PAID_TARGET = {"display": 0.6, "paid_social": 0.45, "video": 0.18, "paid_search": 0.15}
CTR = {"display": 0.004, "paid_social": 0.012, "video": 0.003}

EMAIL_SHARE_PER_SEND = 0.06  # share of the email base targeted by each of the 2 weekly sends
EMAIL_MACHINE_SHARE = 0.15  # recipients behind a privacy proxy (machine opens within seconds)
EMAIL_CLICK_GIVEN_READ = 0.15
SMS_CLICK = 0.05
PUSH_OPEN = 0.07

EXPERIMENT = "email_subject_test"
LIFT_CLICK = 0.20  # B multiplies the click probability of a read email by 1.2

ROPO_PROBABILITY = 0.35  # a store order is preceded by web/app research within 7 days
REVERSE_ROPO_PROBABILITY = 0.20  # an online order of a store-identifiable person follows a visit
ROPO_WINDOW_DAYS = 7
LOYALTY_SHARE = 0.55  # of store shoppers
LOYALTY_PRESENTED = 0.70
APP_SHARE = {"online_only": 0.40, "store_only": 0.15, "omnichannel": 0.33}
REGISTER_SHARE = {"online_only": 0.65, "store_only": 0.15, "omnichannel": 0.35}
PROMO_CODE_USE = 0.5  # orders caused by a campaign with a code use it
LEAKED_CODE_USE = 0.03  # baseline orders using some campaign's code found online

SEASONS = (  # name, code word, (month, day) start, (month, day) end
    ("winter_sale", "HIVER", (1, 8), (2, 4)),
    ("spring_sale", "PRINTEMPS", (3, 20), (4, 20)),
    ("summer_sale", "ETE", (6, 25), (7, 22)),
    ("back_to_school", "RENTREE", (8, 20), (9, 10)),
    ("black_friday", "BLACKFRIDAY", (11, 21), (12, 1)),
    ("christmas", "NOEL", (12, 2), (12, 24)),
)
MAIL_SEASONS = ("winter_sale", "spring_sale", "back_to_school", "christmas")

# Traffic styles: what a visit or ad row looks like in the file.
# (file channel, source, medium, referrer, utm in landing url, click id parameter)
STYLES: tuple[tuple[str | None, str | None, str | None, str | None, bool, str | None], ...] = (
    (None, "(direct)", "(none)", None, False, None),  # 0 direct (analytics export)
    (None, None, None, None, False, None),  # 1 direct (raw hit)
    (None, "google", "organic", "https://www.google.com/", False, None),  # 2
    (None, None, None, "https://www.google.fr/", False, None),  # 3
    (None, "bing", "organic", "https://www.bing.com/", False, None),  # 4
    (None, None, None, "https://www.qwant.com/", False, None),  # 5
    (None, None, None, "https://www.ecosia.org/", False, None),  # 6
    (None, "leparisien.fr", "referral", "https://www.leparisien.fr/shopping/", False, None),  # 7
    (None, None, None, "https://www.marmiton.org/", False, None),  # 8
    (None, "lefigaro.fr", "referral", "https://www.lefigaro.fr/conso/", False, None),  # 9
    (None, "instagram", "social", "https://l.instagram.com/", False, None),  # 10
    (None, None, None, "https://www.facebook.com/", False, None),  # 11
    (None, None, None, "https://t.co/", False, None),  # 12
    (None, None, None, "https://www.tiktok.com/", False, None),  # 13
    (None, None, None, "https://www.pinterest.fr/", False, None),  # 14
    (None, "awin", "affiliate", "https://www.igraal.com/", True, None),  # 15
    (None, "effiliation", "affiliate", "https://www.poulpeo.com/", True, None),  # 16
    (None, "google", "cpc", "https://www.google.com/", True, "gclid"),  # 17
    (None, "bing", "cpc", "https://www.bing.com/", True, "msclkid"),  # 18
    (None, "facebook", "paid_social", "https://m.facebook.com/", True, "fbclid"),  # 19
    (None, "instagram", "paid_social", "https://l.instagram.com/", True, "fbclid"),  # 20
    (None, "tiktok", "paid_social", "https://www.tiktok.com/", True, "ttclid"),  # 21
    (None, "criteo", "display", None, True, None),  # 22
    (None, "dv360", "display", None, True, "gclid"),  # 23
    (None, "taboola", "cpm", None, True, None),  # 24
    (None, "youtube", "cpv", "https://www.youtube.com/", True, "gclid"),  # 25
    (None, "newsletter", "email", None, True, None),  # 26
    (None, "brevo", "email", None, True, None),  # 27
    (None, "sms", "sms", None, True, None),  # 28
    ("app", None, None, None, False, None),  # 29 app session
    (None, "google", "cpc", "https://www.google.com/", True, None),  # 30 gclid stripped
    (None, "firebase", "push", None, False, None),  # 31 app session opened from a push
)
STYLE_MIX: dict[str, tuple[tuple[int, float], ...]] = {
    "direct": ((0, 0.6), (1, 0.4)),
    "organic_search": ((2, 0.55), (3, 0.2), (4, 0.12), (5, 0.08), (6, 0.05)),
    "referral": ((7, 0.4), (8, 0.3), (9, 0.3)),
    "organic_social": ((10, 0.35), (11, 0.25), (12, 0.1), (13, 0.15), (14, 0.15)),
    "affiliate": ((15, 0.6), (16, 0.4)),
    "paid_search": ((17, 0.8), (18, 0.1), (30, 0.1)),
    "paid_social": ((19, 0.5), (20, 0.35), (21, 0.15)),
    "display": ((22, 0.5), (23, 0.35), (24, 0.15)),
    "video": ((25, 1.0),),
    "email": ((26, 0.7), (27, 0.3)),
    "sms": ((28, 1.0),),
    "app": ((29, 1.0),),
    "push": ((31, 1.0),),
}
NAVIGATION_MIX = (("direct", 0.45), ("organic_search", 0.30), ("paid_search", 0.25))
BACKGROUND_MIX = (("organic_search", 0.34), ("direct", 0.28), ("referral", 0.12),
                  ("organic_social", 0.18), ("paid_search", 0.08))  # fmt: skip

SEARCH_TERMS = {
    "brand_search": ("maison exemple", "maison exemple soldes", "maison-exemple.fr"),
    "generic_search": ("robe femme", "chaussures homme", "linge de maison", "veste en lin"),
    "product_ads": ("baskets blanches", "plaid laine", "sac cuir"),
}
CONTENTS = ("banner_a", "banner_b", "carousel", "story_video", "native_card")

HEARD_FROM = {
    "baseline": (("friend", 0.35), ("already a customer", 0.35), ("tv", 0.1), ("search", 0.1),
                 ("radio", 0.05), ("billboard", 0.05)),
    "display": (("online ad", 0.7), ("search", 0.15), ("friend", 0.15)),
    "paid_social": (("instagram", 0.55), ("facebook", 0.3), ("friend", 0.15)),
    "video": (("youtube", 0.5), ("tv", 0.35), ("friend", 0.15)),
    "paid_search": (("search", 0.85), ("friend", 0.15)),
    "affiliate": (("search", 0.5), ("online ad", 0.5)),
    "email": (("email", 0.85), ("already a customer", 0.15)),
    "sms": (("sms", 0.8), ("already a customer", 0.2)),
    "push": (("app", 0.8), ("already a customer", 0.2)),
    "direct_mail": (("catalogue", 0.8), ("already a customer", 0.2)),
}  # fmt: skip

# Free-text comments by topic and tone: (French, English).
COMMENTS: dict[str, dict[str, tuple[str, ...]]] = {
    "delivery": {
        "pos": ("Livraison rapide, colis bien emballe.", "Recu en 48h, parfait.",
                "Fast delivery, well packed.", "Arrived a day early, great."),
        "neg": ("Livraison en retard de plusieurs jours.", "Colis abime a la livraison.",
                "Delivery was late and nobody answered.", "Parcel arrived damaged."),
    },
    "staff": {
        "pos": ("Vendeuse tres aimable et de bon conseil.", "Accueil chaleureux en magasin.",
                "Friendly and helpful staff.", "The sales assistant was great."),
        "neg": ("Personnel peu disponible.", "Vendeur desagreable.",
                "Staff were rude.", "Nobody to help in the store."),
    },
    "price": {
        "pos": ("Bon rapport qualite prix.", "Les soldes valent le coup.",
                "Good value for money.", "Great prices during the sale."),
        "neg": ("Trop cher pour la qualite.", "Prix en hausse, decu.",
                "Too expensive.", "Prices went up, disappointed."),
    },
    "app": {
        "pos": ("Appli simple et rapide.", "Commande en deux clics sur l'appli.",
                "The app is easy to use.", "Smooth checkout in the app."),
        "neg": ("L'appli plante au paiement.", "Appli lente et buggee.",
                "The app crashed at checkout.", "App is slow and buggy."),
    },
    "queue": {
        "pos": ("Passage en caisse rapide.", "Pas d'attente en caisse.",
                "No queue at the till.", "Quick checkout in store."),
        "neg": ("Trop d'attente en caisse.", "Une seule caisse ouverte, 20 minutes d'attente.",
                "Long queue at the till.", "Waited ages to pay."),
    },
    "service": {
        "pos": ("Conseiller efficace, probleme regle.", "Reponse claire et rapide.",
                "Agent solved my issue quickly.", "Clear and fast answer."),
        "neg": ("Trop d'attente au telephone.", "Probleme toujours pas resolu.",
                "Kept on hold for too long.", "My issue is still not solved."),
    },
    "product": {
        "pos": ("Produit conforme, tres bonne qualite.", "Taille parfaitement.",
                "Great quality product.", "Fits perfectly."),
        "neg": ("Produit de mauvaise qualite.", "Taille trop petit, retour necessaire.",
                "Poor quality.", "Runs small, had to return it."),
    },
}  # fmt: skip
TOPICS_BY_SALES_CHANNEL = {
    "web": ("delivery", "price", "product"),
    "app": ("app", "delivery", "product"),
    "store": ("staff", "queue", "price", "product"),
    "call_centre": ("service", "delivery"),
    "marketplace": ("delivery", "product"),
}
