"""The fact check: what a reply states must be in the entries it cites."""

import pytest

from bot.grounding.facts import Source, unsupported

SHIPPING = Source("How long does shipping take? Standard shipping within the US takes 3 to 5 "
                  "working days, express takes 1 to 2. Returns within 30 days of delivery.")
DRESS = Source("Meadow Linen Dress\nJP-102\n$128\n128\nUSD\nhttps://shop.example/products/meadow",
               in_stock=True)
SCARF = Source("Fern Linen Scarf\nJP-115\n$42", in_stock=False)
CONTACT = Source("Write to help@shop.example. The team answers from 9 am to 5 pm.")


def kinds(reply, *sources, strict=True):
    return [(p.kind, p.value) for p in unsupported(reply, sources, strict=strict)]


def test_a_reply_made_of_the_entries_facts_passes():
    assert kinds("Standard shipping takes 3 to 5 working days; express 1 to 2 days.", SHIPPING) == []
    assert kinds("The Meadow Linen Dress costs $128.00 and is in stock: "
                 "https://shop.example/products/meadow", DRESS) == []
    assert kinds("Write to HELP@shop.example, 9 am to 5 pm.", CONTACT) == []


def test_an_invented_price_is_caught():
    assert kinds("The Meadow Linen Dress is only $34!", DRESS) == [("price", "$34")]
    assert kinds("It costs 34 USD.", DRESS) == [("price", "34 USD")]
    assert kinds("It costs 99元.", DRESS) == [("price", "99元")]


def test_a_changed_duration_is_caught_even_when_the_number_is_right():
    assert kinds("You can return it within 30 weeks.", SHIPPING) == [("duration", "30 week")]
    assert kinds("Standard shipping takes 6 to 8 days.", SHIPPING) == [
        ("duration", "6 day"), ("duration", "8 day")]
    assert kinds("Returns within thirty days.", SHIPPING) == []  # number words read as digits
    assert kinds("Returns within seven days.", SHIPPING) == [("duration", "7 day")]
    assert kinds("Express takes 1 to 2 weeks.", Source("Express takes 1 to 2 days.")) == [
        ("duration", "1 week"), ("duration", "2 week")]


def test_an_unknown_email_address_or_url_is_caught():
    assert kinds("Write to sales@shop.example.", CONTACT) == [("email", "sales@shop.example")]
    assert kinds("See https://shop.example/sale for details.", DRESS) == [
        ("url", "https://shop.example/sale")]


def test_stock_claims_must_match_the_cited_product():
    assert kinds("The scarf is out of stock right now.", SCARF) == []
    assert kinds("The dress is sold out.", DRESS) == [("stock", "sold out")]
    assert kinds("The scarf is in stock.", SCARF) == [("stock", "in stock")]


def test_every_number_counts_in_a_grounded_reply_but_only_shop_facts_in_small_talk():
    assert kinds("Call us on 555 0199.", CONTACT) == [("number", "555"), ("number", "0199")]
    assert kinds("I have 2 favourite colours!", strict=False) == []
    assert kinds("Use code SAVE20 for 20% off, call 5550199123!", strict=False) == [
        ("percent", "20%"), ("number", "5550199123")]
    assert kinds("Shipping is free over $75.", strict=False) == [("price", "$75")]
    assert kinds("It arrives in 3 days.", strict=False) == [("duration", "3 day")]


@pytest.mark.parametrize("reply", ["", "Happy to help!", "Linen softens with every wash."])
def test_text_without_facts_passes_anywhere(reply):
    assert unsupported(reply, ()) == []
