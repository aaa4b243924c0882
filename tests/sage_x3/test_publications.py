"""Group ids come from getDescription: the two layouts differ, and the connector follows either."""

from __future__ import annotations

import pytest

from sage_amazon.sage.errors import MalformedRequest, SageConfigurationError
from sage_amazon.sage.x3.objectxml import build_object, parse_description

from .conftest import make_target
from .test_orders import an_order


def test_layouts_publish_different_group_ids(x3_standard, x3_custom):
    standard, custom = make_target(x3_standard), make_target(x3_custom)
    try:
        for pub, field, std_group, custom_group in [("SOH", "BPCORD", "SOH0_1", "SOH0_2"),
                                                   ("SOH", "ITMREF", "SOH4_1", "SOH1_1"),
                                                   ("GAS", "ACC", "GAS1_1", "YJE1_1"),
                                                   ("GAS", "REF", "GAS0_1", "YJE0_2")]:
            std, cus = standard.description(pub), custom.description(pub)
            pick = (lambda d: d.lines.id) if field in ("ITMREF", "ACC") else (
                lambda d, f=field: d.header_group(f).id)
            assert (pick(std), pick(cus)) == (std_group, custom_group)
    finally:
        standard.close()
        custom.close()


def test_connector_recovers_from_a_stale_description(x3_standard, x3_custom, order_ref):
    """A publication regenerated with new group ids: X3 refuses the input XML, the connector
    describes the publication again and re-sends once."""
    stale = make_target(x3_standard).description("SOH")
    target = make_target(x3_custom)
    target._descriptions["SOH"] = stale
    result = target.create_sales_order(an_order(order_ref))
    target.close()
    assert result.created and x3_custom.count_orders(order_ref) == 1


def test_malformed_object_xml_is_a_typed_error(x3, target):
    result = target.soap.call("save", "SOH", object_xml="<PARAM><GRP ID='SOH0_1'><FLD NAME='SALFCY'>US01</GRP>")
    assert result.status == 0 and result.errors[0].startswith("Input XML refused")
    from sage_amazon.sage.x3.refusals import refusal

    error = refusal(result.errors, "SOH order X")
    assert isinstance(error, MalformedRequest) and "SOH order X" in str(error)


def test_a_field_the_publication_lacks_is_a_configuration_error():
    desc = parse_description("SOH", "<ADXDESC><GRP NAME='A'><FLD NAME='SALFCY'/></GRP>"
                                    "<TAB NAME='L'><FLD NAME='ITMREF'/></TAB></ADXDESC>")
    assert "<FLD NAME=\"SALFCY\" TYPE=\"Char\">A&amp;B</FLD>" in build_object(desc, {"SALFCY": "A&B"})
    assert "YFULCHN" not in build_object(desc, {"SALFCY": "X", "YFULCHN": "AFN"}, optional={"YFULCHN"})
    with pytest.raises(SageConfigurationError, match="BPCORD"):
        build_object(desc, {"BPCORD": "X"})


def test_unknown_publication_is_a_configuration_error(x3):
    target = make_target(x3, publications={"SOH": "WSCOMCLT"})
    with pytest.raises(SageConfigurationError, match="WSCOMCLT"):
        target.description("SOH")
    target.close()


def test_group_ids_are_configurable_per_publication(tmp_path, order_ref):
    from sage_amazon.sandbox.x3 import running_x3

    renames = {"SOH": {"SOH4_1": "YSOHLIN", "SOH0_1": "YSOHHDR"}, "GAS": {"GAS1_1": "YGASLIN"}}
    with running_x3(tmp_path, group_ids=renames) as x3:
        target = make_target(x3)
        desc = target.description("SOH")
        assert (desc.lines.id, desc.header_group("SOHNUM").id, desc.header_group("BPCINV").id) == (
            "YSOHLIN", "YSOHHDR", "SOH1_1")
        assert target.description("GAS").lines.id == "YGASLIN"
        assert target.create_sales_order(an_order(order_ref)).created
        target.close()
        assert x3.count_orders(order_ref) == 1
