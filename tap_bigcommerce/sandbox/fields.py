"""Field lists of every record the sandbox generates, in the order of the official specs.

Each tuple lists the property names of one BigCommerce schema (plus the documented extras that
the real API returns but the schema forgets). The generators in :mod:`records` build records with
exactly these keys, and tests compare them with ``schemas/*.json`` so the schemas cannot drift
from what the (sandbox) API sends.
"""

from __future__ import annotations

# products_catalog.v3.yml ``product_Full``: ``id`` + ``product_Base_response`` + extras (76),
# then ``channels`` (only with include=channels) and ``variants`` (only with include=variants;
# missing from the GET schema, present in the real response).
PRODUCT_FIELDS: tuple[str, ...] = (
    "id", "name", "type", "sku", "description", "weight", "width", "depth", "height", "price",
    "cost_price", "retail_price", "sale_price", "map_price", "tax_class_id", "product_tax_code",
    "categories", "brand_id", "inventory_level", "inventory_warning_level", "inventory_tracking",
    "fixed_cost_shipping_price", "is_free_shipping", "is_visible", "is_featured",
    "related_products", "warranty", "bin_picking_number", "layout_file", "upc",
    "search_keywords", "availability_description", "availability", "gift_wrapping_options_type",
    "gift_wrapping_options_list", "sort_order", "condition", "is_condition_shown",
    "order_quantity_minimum", "order_quantity_maximum", "page_title", "meta_keywords",
    "meta_description", "view_count", "preorder_release_date", "preorder_message",
    "is_preorder_only", "is_price_hidden", "price_hidden_label", "custom_url", "open_graph_type",
    "open_graph_title", "open_graph_description", "open_graph_use_meta_description",
    "open_graph_use_product_name", "open_graph_use_image", "gtin", "mpn", "date_last_imported",
    "reviews_rating_sum", "reviews_count", "total_sold", "custom_fields", "bulk_pricing_rules",
    "images", "primary_image", "videos", "parent_relations", "date_created", "date_modified",
    "base_variant_id", "calculated_price", "options", "modifiers", "option_set_id",
    "option_set_display", "channels", "variants",
)  # fmt: skip

# Product keys that appear only when asked for with ``include=`` (value = the include name).
PRODUCT_INCLUDE_FIELDS: dict[str, str] = {
    "custom_fields": "custom_fields",
    "bulk_pricing_rules": "bulk_pricing_rules",
    "images": "images",
    "primary_image": "primary_image",
    "videos": "videos",
    "parent_relations": "parent_relations",
    "options": "options",
    "modifiers": "modifiers",
    "channels": "channels",
    "variants": "variants",
}

# Keys of a product without any include (the GET example's 67 + ``date_last_imported``, which
# the sandbox always sends so that the field is exercised).
PRODUCT_DEFAULT_FIELDS: tuple[str, ...] = tuple(
    f for f in PRODUCT_FIELDS if f not in PRODUCT_INCLUDE_FIELDS
)

# ``productVariant_Full`` as in products_catalog.v3.yml (27, incl. ``map_price``).
VARIANT_FIELDS: tuple[str, ...] = (
    "cost_price", "price", "sale_price", "retail_price", "map_price", "weight", "width", "height",
    "depth", "is_free_shipping", "fixed_cost_shipping_price", "purchasing_disabled",
    "purchasing_disabled_message", "image_url", "upc", "inventory_level",
    "inventory_warning_level", "bin_picking_number", "mpn", "gtin", "product_id", "id", "sku",
    "sku_id", "option_values", "calculated_price", "calculated_weight",
)  # fmt: skip

# ``productImage_Full`` (11).
IMAGE_FIELDS: tuple[str, ...] = (
    "is_thumbnail", "sort_order", "description", "date_modified", "id", "product_id",
    "image_url", "url_zoom", "url_standard", "url_thumbnail", "url_tiny",
)  # fmt: skip

# ``primaryImage_Full`` (11; ``image_file`` instead of ``image_url``).
PRIMARY_IMAGE_FIELDS: tuple[str, ...] = (
    "id", "product_id", "is_thumbnail", "sort_order", "description", "image_file", "url_zoom",
    "url_standard", "url_thumbnail", "url_tiny", "date_modified",
)  # fmt: skip

# ``customFieldData`` (3).
CUSTOM_FIELD_FIELDS: tuple[str, ...] = ("id", "name", "value")

# The item of ``GET /catalog/products/{product_id}/bulk-pricing-rules`` (5): ``id`` +
# ``bulkPricingRule_Response``; the products include carries the same rows.
BULK_PRICING_RULE_FIELDS: tuple[str, ...] = (
    "id", "quantity_min", "quantity_max", "type", "amount",
)  # fmt: skip

# The item of ``GET /catalog/products/{product_id}/reviews`` (10): ``Product Review Base`` +
# ``id`` and its dates. (The spec gives reviews no ``product_id``; the tap adds it.)
REVIEW_FIELDS: tuple[str, ...] = (
    "title", "text", "status", "rating", "email", "name", "date_reviewed", "id", "date_created",
    "date_modified",
)  # fmt: skip

# customers.v3.yml ``customer_Full`` (22) + the two beta includes from the list example.
CUSTOMER_FIELDS: tuple[str, ...] = (
    "email", "first_name", "last_name", "company", "phone", "registration_ip_address", "notes",
    "tax_exempt_category", "customer_group_id", "id", "date_modified", "date_created",
    "address_count", "attribute_count", "authentication", "addresses", "attributes",
    "form_fields", "store_credit_amounts", "accepts_product_review_abandoned_cart_emails",
    "origin_channel_id", "channel_ids", "shopper_profile_id", "segment_ids",
)  # fmt: skip

# Customer keys that appear only with ``include=`` (value = the include name).
CUSTOMER_INCLUDE_FIELDS: dict[str, str] = {
    "addresses": "addresses",
    "attributes": "attributes",
    "form_fields": "formfields",
    "store_credit_amounts": "storecredit",
    "shopper_profile_id": "shopper_profile_id",
    "segment_ids": "segment_ids",
}

CUSTOMER_DEFAULT_FIELDS: tuple[str, ...] = tuple(
    f for f in CUSTOMER_FIELDS if f not in CUSTOMER_INCLUDE_FIELDS
)

# ``address_Full`` (15).
CUSTOMER_ADDRESS_FIELDS: tuple[str, ...] = (
    "first_name", "last_name", "company", "address1", "address2", "city", "state_or_province",
    "postal_code", "country_code", "phone", "address_type", "customer_id", "id", "country",
    "form_fields",
)  # fmt: skip

# orders.v2.oas2.yml ``order_Resp`` (72) + ``credit_card_type`` and ``custom_status`` from the
# list example. ``consignments`` and ``fees`` appear only with ``include=``.
ORDER_FIELDS: tuple[str, ...] = (
    "id", "date_modified", "date_shipped", "cart_id", "status", "subtotal_tax",
    "shipping_cost_tax", "shipping_cost_tax_class_id", "handling_cost_tax",
    "handling_cost_tax_class_id", "wrapping_cost_tax", "wrapping_cost_tax_class_id",
    "payment_status", "store_credit_amount", "gift_certificate_amount", "currency_id",
    "currency_code", "currency_exchange_rate", "default_currency_id", "default_currency_code",
    "store_default_currency_code", "store_default_to_transactional_exchange_rate",
    "coupon_discount", "shipping_address_count", "is_deleted", "total_tax",
    "is_tax_inclusive_pricing", "is_email_opt_in", "order_source", "consignments", "products",
    "shipping_addresses", "coupons", "status_id", "billing_address", "fees",
    "base_handling_cost", "base_shipping_cost", "base_wrapping_cost", "channel_id",
    "customer_id", "customer_message", "date_created", "discount_amount", "ebay_order_id",
    "external_id", "external_merchant_id", "external_source", "geoip_country",
    "geoip_country_iso2", "handling_cost_ex_tax", "handling_cost_inc_tax", "ip_address",
    "ip_address_v6", "items_shipped", "items_total", "order_is_digital", "payment_method",
    "payment_provider_id", "refunded_amount", "shipping_cost_ex_tax", "shipping_cost_inc_tax",
    "staff_notes", "subtotal_ex_tax", "subtotal_inc_tax", "tax_provider_id", "customer_locale",
    "external_order_id", "total_ex_tax", "total_inc_tax", "wrapping_cost_ex_tax",
    "wrapping_cost_inc_tax", "credit_card_type", "custom_status",
)  # fmt: skip

ORDER_INCLUDE_FIELDS: dict[str, str] = {"consignments": "consignments", "fees": "fees"}

ORDER_DEFAULT_FIELDS: tuple[str, ...] = tuple(
    f for f in ORDER_FIELDS if f not in ORDER_INCLUDE_FIELDS
)

# ``billingAddress_Resp`` (13).
ORDER_BILLING_ADDRESS_FIELDS: tuple[str, ...] = (
    "first_name", "last_name", "company", "street_1", "street_2", "city", "state", "zip",
    "country", "country_iso2", "phone", "email", "form_fields",
)  # fmt: skip

# ``orderProducts`` (57).
ORDER_PRODUCT_FIELDS: tuple[str, ...] = (
    "id", "order_id", "product_id", "order_pickup_method_id", "order_address_id", "name", "sku",
    "type", "base_price", "price_ex_tax", "price_inc_tax", "price_tax", "base_total",
    "total_ex_tax", "total_inc_tax", "total_tax", "quantity", "base_cost_price",
    "cost_price_inc_tax", "cost_price_ex_tax", "weight", "width", "height", "depth",
    "cost_price_tax", "is_refunded", "quantity_refunded", "refund_amount", "return_id",
    "wrapping_id", "wrapping_name", "base_wrapping_cost", "wrapping_cost_ex_tax",
    "wrapping_cost_inc_tax", "wrapping_cost_tax", "wrapping_message", "quantity_shipped",
    "event_name", "event_date", "fixed_shipping_cost", "ebay_item_id", "ebay_transaction_id",
    "option_set_id", "parent_order_product_id", "is_bundled_product", "bin_picking_number",
    "external_id", "brand", "applied_discounts", "product_options", "configurable_fields", "upc",
    "variant_id", "name_customer", "name_merchant", "gift_certificate_id",
    "discounted_total_inc_tax",
)  # fmt: skip

# ``orderShippingAddress`` (31).
ORDER_SHIPPING_ADDRESS_FIELDS: tuple[str, ...] = (
    "id", "order_id", "items_total", "items_shipped", "base_cost", "cost_ex_tax", "cost_inc_tax",
    "cost_tax", "cost_tax_class_id", "base_handling_cost", "handling_cost_ex_tax",
    "handling_cost_inc_tax", "handling_cost_tax", "handling_cost_tax_class_id",
    "shipping_zone_id", "shipping_zone_name", "form_fields", "shipping_quotes", "first_name",
    "last_name", "company", "street_1", "street_2", "city", "state", "zip", "country",
    "country_iso2", "phone", "email", "shipping_method",
)  # fmt: skip

# ``shippingConsignment_Get`` (31) + the undocumented ``__warning__`` (bigcommerce/docs#960),
# present only when the consignment holds more line items than the include returns.
SHIPPING_CONSIGNMENT_FIELDS: tuple[str, ...] = (
    "id", "first_name", "last_name", "company", "street_1", "street_2", "city", "zip", "country",
    "country_iso2", "state", "email", "phone", "form_fields", "line_items", "items_total",
    "items_shipped", "shipping_method", "base_cost", "cost_ex_tax", "cost_inc_tax", "cost_tax",
    "cost_tax_class_id", "base_handling_cost", "handling_cost_ex_tax", "handling_cost_inc_tax",
    "handling_cost_tax", "handling_cost_tax_class_id", "shipping_zone_id", "shipping_zone_name",
    "shipping_quotes",
)  # fmt: skip

# ``orderFees_Resp`` (10).
ORDER_FEE_FIELDS: tuple[str, ...] = (
    "id", "type", "display_name_customer", "display_name_merchant", "source", "base_cost",
    "cost_ex_tax", "cost_inc_tax", "cost_tax", "tax_class_id",
)  # fmt: skip

# ``GET /v2/orders/{order_id}/coupons`` (orderCoupons, 7).
ORDER_COUPON_FIELDS: tuple[str, ...] = (
    "id", "coupon_id", "order_id", "code", "amount", "type", "discount",
)  # fmt: skip

# ``GET /v2/orders/{order_id}/shipments`` (orderShipment, 17).
ORDER_SHIPMENT_FIELDS: tuple[str, ...] = (
    "id", "order_id", "customer_id", "order_address_id", "date_created", "tracking_number",
    "merchant_shipping_cost", "shipping_method", "shipping_provider", "tracking_carrier",
    "tracking_link", "comments", "billing_address", "shipping_address", "items",
    "shipping_provider_display_name", "generated_tracking_link",
)  # fmt: skip

# orders.v3.yml ``GET /orders/{order_id}/transactions`` (transaction, 25).
ORDER_TRANSACTION_FIELDS: tuple[str, ...] = (
    "event", "method", "amount", "currency", "gateway", "gateway_transaction_id", "test",
    "status", "fraud_review", "reference_transaction_id", "offline", "custom",
    "payment_method_id", "id", "order_id", "date_created", "payment_instrument_token",
    "provider_instrument_token", "provider_customer_id", "avs_result", "cvv_result",
    "credit_card", "gift_certificate", "store_credit", "custom_provider_field_result",
)  # fmt: skip

# store_information.v2.yml ``StoreInformation`` (41).
STORE_FIELDS: tuple[str, ...] = (
    "id", "account_uuid", "domain", "secure_url", "control_panel_base_url", "status", "name",
    "first_name", "last_name", "address", "country", "country_code", "infrastructure_region",
    "phone", "admin_email", "order_email", "favicon_url", "timezone", "language", "currency",
    "currency_symbol", "decimal_separator", "thousands_separator", "decimal_places",
    "currency_symbol_location", "weight_units", "dimension_units", "dimension_decimal_places",
    "dimension_decimal_token", "dimension_thousands_token", "plan_name", "plan_level",
    "plan_is_trial", "industry", "logo", "is_price_entered_with_tax", "store_id",
    "default_channel_id", "default_site_id", "active_comparison_modules", "features",
)  # fmt: skip

# Order statuses (id → name) from the ``/v2/orders/count`` example, in its order.
ORDER_STATUSES: tuple[tuple[int, str], ...] = (
    (0, "Incomplete"), (1, "Pending"), (7, "Awaiting Payment"), (11, "Awaiting Fulfillment"),
    (9, "Awaiting Shipment"), (8, "Awaiting Pickup"), (3, "Partially Shipped"), (10, "Completed"),
    (2, "Shipped"), (5, "Cancelled"), (6, "Declined"), (4, "Refunded"), (13, "Disputed"),
    (12, "Manual Verification Required"), (14, "Partially Refunded"),
)  # fmt: skip
